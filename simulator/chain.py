"""The chain: L1 blocks, protocol rounds, active stake and daily fee volume.

The L1 block number ticks every 12 s from a fixed anchor; every protocol round has
its own active stake and every UTC day its own fee volume and ETH price. Amounts
are 1e-18 fixed-point integers, printed the way The Graph prints a BigDecimal.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from simulator.draws import BoundedMemo, seeded
from simulator.units import DAY_US, JSON, SECOND_US, epoch_us

BLOCK_ANCHOR_US: Final = epoch_us(datetime(2025, 1, 1, tzinfo=UTC))
BLOCK_AT_ANCHOR: Final = 21_525_000
BLOCK_US: Final = 12 * SECOND_US
ROUND_LENGTH: Final = 5760
ANCHOR_ROUND: Final = 3600
ANCHOR_ROUND_START_BLOCK: Final = 21_521_000
FEE_HISTORY_DAYS: Final = 365
FEE_EPOCH_DAY: Final = epoch_us(datetime(2021, 1, 1, tzinfo=UTC)) // DAY_US
FEE_BLOCK_DAYS: Final = 100
WEI: Final = 10**18
FEES_BEFORE_EPOCH_WEI: Final = 2_150 * WEI  # protocol fees older than the fee epoch
FEES_BEFORE_EPOCH_USD: Final = 4_100_000 * WEI  # USD in 1e-18 units, like the wei


def decimal_string(atto: int) -> str:
    """A 1e-18 fixed-point integer as The Graph prints a BigDecimal."""
    whole, fraction = divmod(atto, WEI)
    return f"{whole}.{fraction:018d}".rstrip("0").rstrip(".")


class Chain:
    """The seed's chain history; every query takes the time explicitly."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._days = BoundedMemo(self._day_volume, 4000)
        self._fee_blocks = BoundedMemo(self._fee_block, 200)

    def block_number(self, now: datetime) -> int:
        return BLOCK_AT_ANCHOR + (epoch_us(now) - BLOCK_ANCHOR_US) // BLOCK_US

    def protocol(self, now: datetime) -> JSON:
        block = self.block_number(now)
        round_id = ANCHOR_ROUND + (block - ANCHOR_ROUND_START_BLOCK) // ROUND_LENGTH
        start_block = (
            ANCHOR_ROUND_START_BLOCK + (round_id - ANCHOR_ROUND) * ROUND_LENGTH
        )
        total_eth, total_usd = self._lifetime_fees(epoch_us(now))
        return {
            "id": "0",
            "roundLength": str(ROUND_LENGTH),
            "totalActiveStake": decimal_string(self._active_stake(round_id)),
            "currentRound": {
                "id": str(round_id),
                "startBlock": str(start_block),
                "initialized": True,
            },
            "totalVolumeETH": decimal_string(total_eth),
            "totalVolumeUSD": decimal_string(total_usd),
        }

    def _active_stake(self, round_id: int) -> int:
        """Bonded LPT (in 1e-18 units), ~30-32M, redrawn once per round."""
        rng = seeded(self.seed, "stake", round_id)
        drift = 0.018 * math.sin(2 * math.pi * round_id / 97)
        drift += 0.008 * math.sin(2 * math.pi * round_id / 17)
        lpt = 31_000_000 * (1 + drift) + rng.uniform(-25_000, 25_000)
        return int(lpt * 1_000_000) * 10**12 + rng.randrange(10**12)

    def _day_volume(self, day: int) -> tuple[int, int]:
        """A full UTC day's fees: (ETH in wei, USD in 1e-18 units)."""
        rng = seeded(self.seed, "fees", day)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        weekly = 0.8 if weekday >= 5 else 1.0
        trend = 1 + 0.25 * math.sin(2 * math.pi * day / 211)
        eth = min(15.0, max(2.0, 7.0 * trend * weekly * rng.uniform(0.55, 1.45)))
        wei = int(eth * 1e6) * 10**12 + rng.randrange(10**12)
        price = 3250 + 550 * math.sin(2 * math.pi * day / 173)
        price += 150 * math.sin(2 * math.pi * day / 41) + rng.uniform(-40, 40)
        cents = round(min(4000.0, max(2500.0, price)) * 100)
        return wei, wei * cents // 100

    def _fee_block(self, first_day: int) -> tuple[int, int]:
        days = [self._days(d) for d in range(first_day, first_day + FEE_BLOCK_DAYS)]
        return sum(e for e, _ in days), sum(u for _, u in days)

    def _sum_full_days(self, first: int, stop: int) -> tuple[int, int]:
        eth = usd = 0
        day = first
        while day < stop:
            aligned = (day - FEE_EPOCH_DAY) % FEE_BLOCK_DAYS == 0
            if aligned and day + FEE_BLOCK_DAYS <= stop:
                e, u = self._fee_blocks(day)
                day += FEE_BLOCK_DAYS
            else:
                e, u = self._days(day)
                day += 1
            eth, usd = eth + e, usd + u
        return eth, usd

    def _today_so_far(self, now_us: int) -> tuple[int, int]:
        today, elapsed = divmod(now_us, DAY_US)
        wei, usd = self._days(today)
        return wei * elapsed // DAY_US, usd * elapsed // DAY_US

    def _lifetime_fees(self, now_us: int) -> tuple[int, int]:
        today = now_us // DAY_US
        first = min(FEE_EPOCH_DAY, today - FEE_HISTORY_DAYS + 1)
        eth, usd = self._sum_full_days(first, today)
        part_eth, part_usd = self._today_so_far(now_us)
        return (
            FEES_BEFORE_EPOCH_WEI + eth + part_eth,
            FEES_BEFORE_EPOCH_USD + usd + part_usd,
        )

    def fee_days(self, now: datetime) -> list[JSON]:
        """The last 365 UTC days, ascending, today's partial day last."""
        now_us = epoch_us(now)
        today = now_us // DAY_US
        days = []
        for day in range(today - FEE_HISTORY_DAYS + 1, today + 1):
            eth, usd = self._today_so_far(now_us) if day == today else self._days(day)
            days.append(
                {
                    "id": str(day),
                    "date": day * 86_400,
                    "volumeETH": decimal_string(eth),
                    "volumeUSD": decimal_string(usd),
                }
            )
        return days
