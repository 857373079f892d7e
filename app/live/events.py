"""The job feed's events: what a poll changed, as `snapshot`, `delta` and `status`.

Entries are the REST route's own (`GET /api/v1/dashboard/job-feed`'s `streams`,
as its render produced them), so a snapshot's `streams` are byte-equal to the
REST body of the same poll. Rows are matched across polls on a stable key (start
time and gateway), not on the upstream `id`, which is the row's latest event id
and changes every poll; a kept row is `updated` only when a material field
changed: status, model, pipeline, orchestrator, gateway, or an fps value that
moved a full deadband away from every value clients may hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

Entry = Mapping[str, Any]  # one entry of the REST body's `streams`

# Sequence numbers count seconds since this instant (2025-01-01 UTC), bumped by one
# when two events share a second: they grow across restarts and leaders, so a
# `Last-Event-ID` from an earlier process never names a state of a later one, and
# they stay within GraphQL's 32-bit Int until 2093.
SEQ_EPOCH = 1_735_689_600
MATERIAL = ("status", "model", "pipeline", "orchestratorUrl", "gateway")
FPS_FIELDS = ("inputFps", "outputFps")
# Frames per second an fps value must move before it is news (the simulator's
# frame-to-frame jitter is about +-0.75 fps on a 15 fps stream).
FPS_DEADBAND = 2.0

Spread = tuple[float, float] | None  # lowest and highest value sent since an update


def next_seq(previous: int, wall: float) -> int:
    return max(previous + 1, int(wall) - SEQ_EPOCH)


def iso_time(epoch: float) -> str:
    """`2026-11-25T14:30:15.000Z` (milliseconds, as the dashboard's dates)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stream_keys(streams: Sequence[Entry]) -> list[str]:
    """Each entry's stable key: `<startedAt>@<gateway>`. Entries sharing one get
    `#2`, `#3`... in a fixed order of their other fields, so keys are unique
    within a poll."""
    bases = [
        f"{entry.get('startedAt')}@{entry.get('gateway') or '-'}" for entry in streams
    ]
    keys = list(bases)
    groups: dict[str, list[int]] = {}
    for index, base in enumerate(bases):
        groups.setdefault(base, []).append(index)
    for base, indexes in groups.items():
        if len(indexes) == 1:
            continue
        ordered = sorted(indexes, key=lambda i: _tiebreak(streams[i]))
        for rank, index in enumerate(ordered[1:], start=2):
            keys[index] = f"{base}#{rank}"
    return keys


def _tiebreak(entry: Entry) -> tuple[str, ...]:
    return tuple(str(entry.get(name) or "") for name in (*MATERIAL, "id"))


@dataclass(frozen=True, slots=True)
class Row:
    """One kept stream: its latest entry and, per fps field, the range of values
    that were current since its last update (any of them may be on a screen)."""

    entry: Entry
    spreads: tuple[Spread, ...]


def _spreads(entry: Entry) -> tuple[Spread, ...]:
    return tuple(_point(entry.get(name)) for name in FPS_FIELDS)


def _point(value: Any) -> Spread:
    return None if value is None else (float(value), float(value))


@dataclass(frozen=True, slots=True)
class Changes:
    added: list[tuple[str, Entry]] = field(default_factory=list)
    updated: list[tuple[str, Entry]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def compare(
    rows: Mapping[str, Row],
    keys: Sequence[str],
    streams: Sequence[Entry],
    deadband: float = FPS_DEADBAND,
) -> tuple[dict[str, Row], Changes]:
    """The rows after a poll (`keys[i]` names `streams[i]`) and what changed."""
    changes = Changes()
    after: dict[str, Row] = {}
    for key, entry in zip(keys, streams, strict=True):
        row = rows.get(key)
        if row is None:
            changes.added.append((key, entry))
            after[key] = Row(entry, _spreads(entry))
            continue
        spreads = _widened(row, entry, deadband)
        if spreads is None:
            changes.updated.append((key, entry))
            after[key] = Row(entry, _spreads(entry))
        else:
            after[key] = Row(entry, spreads)
    changes.removed.extend(key for key in rows if key not in after)
    return after, changes


def _widened(row: Row, entry: Entry, deadband: float) -> tuple[Spread, ...] | None:
    """The row's spreads with the new values in; None when the entry is news."""
    old = row.entry
    if any(old.get(name) != entry.get(name) for name in MATERIAL):
        return None
    spreads: list[Spread] = []
    for name, spread in zip(FPS_FIELDS, row.spreads, strict=True):
        value = entry.get(name)
        if value is None or spread is None:
            if (value is None) != (spread is None):
                return None
            spreads.append(None)
            continue
        low, high = spread
        value = float(value)
        if value - low >= deadband or high - value >= deadband:
            return None
        spreads.append((min(low, value), max(high, value)))
    return tuple(spreads)


class FeedEvent:
    """One event, encoded once as its SSE frame (`id:`, `event:`, one JSON
    `data:` line), shared by every listener. `memo` keeps other renderings of
    it (the GraphQL objects), also built once. The ring keeps `for_ring()`
    copies: the frame alone, so 64 events cost their bytes and no objects."""

    __slots__ = ("_payload", "_start", "kind", "memo", "seq", "sse")

    def __init__(
        self, kind: str, seq: int, data: bytes, payload: Mapping[str, Any] | None
    ) -> None:
        self.kind = kind
        self.seq = seq
        head = b"id: %d\nevent: %s\ndata: " % (seq, kind.encode())
        self._start = len(head)
        self.sse = head + data + b"\n\n"
        self._payload = payload
        self.memo: dict[str, Any] = {}

    @classmethod
    def of(cls, kind: str, payload: Mapping[str, Any]) -> FeedEvent:
        return cls(kind, payload["seq"], orjson.dumps(payload), payload)

    @property
    def data(self) -> bytes:
        """The JSON payload (a copy out of the frame)."""
        return self.sse[self._start : -2]

    @property
    def payload(self) -> Mapping[str, Any]:
        if self._payload is None:  # relayed or replayed: decoded on demand
            self._payload = orjson.loads(memoryview(self.sse)[self._start : -2])
        return self._payload

    def for_ring(self) -> FeedEvent:
        copy = object.__new__(FeedEvent)
        copy.kind, copy.seq, copy.sse, copy._start = (
            self.kind,
            self.seq,
            self.sse,
            self._start,
        )
        copy._payload = None
        copy.memo = {}
        return copy


@dataclass(frozen=True, slots=True)
class FeedState:
    """What listeners are told: the latest poll's entries (REST order) with their
    keys, the rows used for comparison, and whether the data is stale."""

    seq: int
    keys: list[str]
    streams: list[Entry]
    rows: dict[str, Row]
    stale: bool
    last_success_at: str | None

    def snapshot(self) -> FeedEvent:
        return FeedEvent.of(
            "snapshot",
            {
                "seq": self.seq,
                "keys": self.keys,
                "streams": self.streams,
                "stale": self.stale,
                "lastSuccessAt": self.last_success_at,
            },
        )

    def to_json(self) -> dict[str, Any]:
        """For another worker: the snapshot's fields and the rows' spreads."""
        return {
            "seq": self.seq,
            "keys": self.keys,
            "streams": self.streams,
            "stale": self.stale,
            "lastSuccessAt": self.last_success_at,
            "spreads": [self.rows[key].spreads for key in self.keys],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeedState:
        keys: list[str] = data["keys"]
        streams: list[Entry] = data["streams"]
        spreads = data.get("spreads") or [_spreads(entry) for entry in streams]
        rows = {
            key: Row(entry, tuple(None if s is None else (s[0], s[1]) for s in spread))
            for key, entry, spread in zip(keys, streams, spreads, strict=True)
        }
        return cls(
            seq=data["seq"],
            keys=keys,
            streams=streams,
            rows=rows,
            stale=data["stale"],
            last_success_at=data["lastSuccessAt"],
        )


def initial(streams: Sequence[Entry] | None, fetched_at: float, seq: int) -> FeedState:
    """The first state of a feed: a poll's entries, or none (stale) if it failed."""
    entries = list(streams or ())
    keys = stream_keys(entries)
    return FeedState(
        seq=seq,
        keys=keys,
        streams=entries,
        rows={key: Row(e, _spreads(e)) for key, e in zip(keys, entries, strict=True)},
        stale=streams is None,
        last_success_at=None if streams is None else iso_time(fetched_at),
    )


def advance(
    state: FeedState,
    streams: Sequence[Entry] | None,
    fetched_at: float,
    wall: float,
    deadband: float = FPS_DEADBAND,
) -> tuple[FeedState, list[FeedEvent]]:
    """The state after a poll (`streams` None: it failed) and the events that
    tell it: a delta if anything material changed; a status when the data
    turns stale (a failed poll keeps the last entries) or fresh again."""
    events: list[FeedEvent] = []
    seq = state.seq
    if streams is None:
        if state.stale:
            return state, events
        seq = next_seq(seq, wall)
        events.append(_status(seq, True, state.last_success_at))
        return _replace(state, seq=seq, stale=True), events
    entries = list(streams)
    keys = stream_keys(entries)
    rows, changes = compare(state.rows, keys, entries, deadband)
    if changes:
        seq = next_seq(seq, wall)
        events.append(
            FeedEvent.of(
                "delta",
                {
                    "seq": seq,
                    "added": _changed(changes.added),
                    "updated": _changed(changes.updated),
                    "removed": changes.removed,
                },
            )
        )
    last_success_at = iso_time(fetched_at)
    if state.stale:
        seq = next_seq(seq, wall)
        events.append(_status(seq, False, last_success_at))
    new = FeedState(seq, keys, entries, rows, False, last_success_at)
    return new, events


def _changed(pairs: Iterable[tuple[str, Entry]]) -> list[dict[str, Any]]:
    return [{"key": key, "stream": entry} for key, entry in pairs]


def _status(seq: int, stale: bool, last_success_at: str | None) -> FeedEvent:
    return FeedEvent.of(
        "status", {"seq": seq, "stale": stale, "lastSuccessAt": last_success_at}
    )


def _replace(state: FeedState, *, seq: int, stale: bool) -> FeedState:
    return FeedState(
        seq, state.keys, state.streams, state.rows, stale, state.last_success_at
    )
