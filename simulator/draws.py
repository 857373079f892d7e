"""Seeded randomness: one private RNG per quantity, the few distributions the
world draws from, and the bounded memo that keeps repeated draws cheap."""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar


def seeded(seed: int, *parts: object) -> random.Random:
    """A private RNG for one quantity. String seeds are hashed with SHA-512 by
    `random`, so the stream is stable across processes (unlike the salted hash())."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


K = TypeVar("K")
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """LRU memo of a pure function; bounded so a long-running simulator stays small."""

    def __init__(self, compute: Callable[[K], V], max_entries: int) -> None:
        self._compute = compute
        self._max_entries = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()

    def __call__(self, key: K) -> V:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = self._compute(key)
        self._data[key] = value
        if len(self._data) > self._max_entries:
            self._data.popitem(last=False)
        return value


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: multiply uniforms until the product drops below e^-mean."""
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def binomial(rng: random.Random, trials: int, probability: float) -> int:
    """One draw per trial: the counts are small, and rounding a rate would bias them."""
    return sum(1 for _ in range(trials) if rng.random() < probability)
