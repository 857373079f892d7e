"""Rate-limit storage on Redis (RATE_LIMIT_STORAGE): counts shared between
limiters on TEST_REDIS_URL's server, and an unreachable server lets requests
through. The tiers themselves are in tests/api/test_rate_limits.py."""

from __future__ import annotations

import pytest

from app.ratelimit import RateLimiter
from tests.support.app import make_settings


async def test_a_storage_outage_fails_open() -> None:
    settings = make_settings(
        rate_limit_storage="redis://127.0.0.1:9/0", rate_limit_public="1/minute"
    )
    limiter = RateLimiter(settings)
    try:
        for _ in range(3):
            await limiter.hit("public", "a")  # nothing listens on port 9
    finally:
        await limiter.aclose()


async def test_redis_storage_is_shared_between_limiters(
    redis_test_url: str,
) -> None:
    settings = make_settings(
        rate_limit_storage=redis_test_url, rate_limit_public="2/minute"
    )
    first, second = RateLimiter(settings), RateLimiter(settings)
    try:
        await first.hit("public", "shared")
        await second.hit("public", "shared")
        with pytest.raises(Exception, match="Too many requests") as caught:
            await first.hit("public", "shared")
        assert getattr(caught.value, "retry_after", 0) >= 1
    finally:
        await first.aclose()
        await second.aclose()
