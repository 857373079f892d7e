"""One poller per feed across workers and replicas, through Redis (`CACHE_URL`).

Imported only when CACHE_URL is set. Per feed, a leader holds
`naap:live:lease:<feed>` (`SET NX PX`), renewed with every poll and at least every
`LEASE_MS / 3` while it waits. Each poll, one script checks the lease is still
ours, stores the state (`naap:live:state:<feed>`) and publishes the poll's events
with that state on `naap:live:events:<feed>`, atomically. Followers fan the
events out to their own listeners, and serve joins from the state: pub/sub is
at-most-once, so a message whose `prev` is not the follower's state is a gap,
and its listeners resync from the state the message carries. A dead leader's
lease lapses within `LEASE_MS`; a follower tries for it every `ACQUIRE_EVERY`.
If Redis fails, the worker polls on its own until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from app.caching.redis_backend import RELEASE_LUA, RENEW_LUA
from app.caching.stores import check_redis_url
from app.live.events import FeedEvent, FeedState
from app.live.feed import Feed
from app.live.hub import FeedHub

log = logging.getLogger("naap.live.redis")

LEASE_MS: Final = 10_000  # a dead leader is replaced within this + ACQUIRE_EVERY
ACQUIRE_EVERY: Final = 2.0  # seconds between a follower's tries for the lease
STATE_TTL_MS: Final = 600_000
# A stored state older than this was written by no live leader: not served.
STATE_FRESH: Final = 60.0

# KEYS: lease, state. ARGV: token, lease ms, stored state, its ttl ms, channel,
# message. Renew, store and publish only while the lease is ours.
_ANNOUNCE_LUA = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('pexpire', KEYS[1], ARGV[2])
redis.call('set', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('publish', ARGV[5], ARGV[6])
return 1
"""


@dataclass(slots=True)
class _Role:
    leader: bool = False
    contested: bool = False  # another leader published while we thought we led


class RedisRelay:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "naap:live:",
        lease_ms: int = LEASE_MS,
        acquire_every: float = ACQUIRE_EVERY,
    ) -> None:
        url = check_redis_url(url)
        self.namespace = namespace
        self.lease_ms = lease_ms
        self.acquire_every = acquire_every
        self.token = uuid.uuid4().hex
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=5.0, socket_timeout=5.0
        )
        # Subscriptions wait for messages indefinitely: no read timeout there.
        self._listener = redis.Redis.from_url(
            url, socket_connect_timeout=5.0, health_check_interval=30
        )
        self._announce = self._redis.register_script(_ANNOUNCE_LUA)
        self._renew = self._redis.register_script(RENEW_LUA)
        self._release = self._redis.register_script(RELEASE_LUA)
        self.leading: set[str] = set()  # feeds this process polls for everyone
        self.takeovers = 0

    def lease_key(self, feed: Feed) -> str:
        return f"{self.namespace}lease:{feed.key}"

    def state_key(self, feed: Feed) -> str:
        return f"{self.namespace}state:{feed.key}"

    def channel(self, feed: Feed) -> str:
        return f"{self.namespace}events:{feed.key}"

    # --- the feed's runner -------------------------------------------------------
    async def run(self, hub: FeedHub, feed: Feed) -> None:
        role = _Role()
        listener: asyncio.Task[None] | None = None
        down = False  # Redis failed: this worker polls for its own listeners
        try:
            while not hub.should_stop(feed):
                try:
                    if listener is None or listener.done():
                        listener = await self._subscribe(hub, feed, role, listener)
                    if down:
                        log.info("Redis answers again: %s is shared again", feed.key)
                        down = False
                    await self._step(hub, feed, role)
                except RedisError as exc:
                    if not down:
                        log.warning(
                            "Redis unavailable for %s (%r): polling in this worker",
                            feed.key,
                            exc,
                        )
                        down = True
                    self._step_down(feed, role)
                    state, events, ok = await hub.refresh(feed, feed.state)
                    feed.publish(state, events)
                    await hub.timer.sleep(hub.delay(0 if ok else 1))
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            if role.leader:
                self._step_down(feed, role)
                await asyncio.shield(self._release_lease(feed))

    async def _step(self, hub: FeedHub, feed: Feed, role: _Role) -> None:
        if role.contested:
            log.warning("another worker leads %s: following it", feed.key)
            self._step_down(feed, role)
        if not role.leader and await self._acquire(feed):
            role.leader = True
            self.leading.add(feed.key)
            if feed.state is not None:
                self.takeovers += 1
                log.info("took over polling %s", feed.key)
            await self._adopt(feed)
        if not role.leader:
            if feed.state is None:
                await self._load_stored(hub, feed)
            await hub.timer.sleep(self.acquire_every)
            return
        failures = 0
        while role.leader and not hub.should_stop(feed) and not role.contested:
            previous = feed.state
            state, events, ok = await hub.refresh(feed, previous)
            if not await self._publish(hub, feed, previous, state, events):
                log.warning("lost the lease of %s: following", feed.key)
                self._step_down(feed, role)
                return
            feed.publish(state, events)
            failures = 0 if ok else failures + 1
            await self._hold(hub, feed, role, hub.delay(failures))

    def _step_down(self, feed: Feed, role: _Role) -> None:
        role.leader = role.contested = False
        self.leading.discard(feed.key)

    async def _hold(
        self, hub: FeedHub, feed: Feed, role: _Role, seconds: float
    ) -> None:
        """Wait `seconds`, renewing the lease often enough to keep it."""
        step = self.lease_ms / 3000
        while seconds > 0 and role.leader:
            wait = min(seconds, step)
            await hub.timer.sleep(wait)
            seconds -= wait
            if seconds > 0 and not await self._renew(
                keys=[self.lease_key(feed)], args=[self.token, self.lease_ms]
            ):
                self._step_down(feed, role)

    # --- Redis -------------------------------------------------------------------
    async def _acquire(self, feed: Feed) -> bool:
        acquired = await self._redis.set(
            self.lease_key(feed), self.token, nx=True, px=self.lease_ms
        )
        return bool(acquired)

    async def _release_lease(self, feed: Feed) -> None:
        try:
            await self._release(keys=[self.lease_key(feed)], args=[self.token])
        except RedisError as exc:  # it lapses on its own
            log.warning("could not release the lease of %s: %r", feed.key, exc)

    async def _stored(self, hub: FeedHub, feed: Feed) -> FeedState | None:
        raw = await self._redis.get(self.state_key(feed))
        if raw is None:
            return None
        stored = orjson.loads(raw)
        if hub.timer.wall() - stored["storedAt"] > STATE_FRESH:
            return None
        return FeedState.from_json(stored["state"])

    async def _load_stored(self, hub: FeedHub, feed: Feed) -> None:
        stored = await self._stored(hub, feed)
        if stored is not None and (feed.state is None or stored.seq > feed.state.seq):
            feed.publish(stored, ())

    async def _adopt(self, feed: Feed) -> None:
        """A new leader continues from the stored state when it is newer."""
        raw = await self._redis.get(self.state_key(feed))
        if raw is None:
            return
        stored = FeedState.from_json(orjson.loads(raw)["state"])
        if feed.state is None:
            feed.publish(stored, ())
        elif stored.seq > feed.state.seq:
            feed.reset(stored)

    async def _publish(
        self,
        hub: FeedHub,
        feed: Feed,
        previous: FeedState | None,
        state: FeedState,
        events: list[FeedEvent],
    ) -> bool:
        state_json = orjson.dumps(state.to_json())
        stored = b'{"storedAt":%s,"state":%s}' % (
            orjson.dumps(hub.timer.wall()),
            state_json,
        )
        message = b'{"token":"%s","prev":%s,"events":%s,"state":%s}' % (
            self.token.encode(),
            orjson.dumps(None if previous is None else previous.seq),
            orjson.dumps([[e.kind, e.seq, e.data.decode()] for e in events]),
            state_json,
        )
        done = await self._announce(
            keys=[self.lease_key(feed), self.state_key(feed)],
            args=[
                self.token,
                self.lease_ms,
                stored,
                STATE_TTL_MS,
                self.channel(feed),
                message,
            ],
        )
        return bool(done)

    # --- followers ---------------------------------------------------------------
    async def _subscribe(
        self,
        hub: FeedHub,
        feed: Feed,
        role: _Role,
        previous: asyncio.Task[None] | None,
    ) -> asyncio.Task[None]:
        if previous is not None and not previous.cancelled():
            error = previous.exception()
            if error is not None:
                log.warning(
                    "%s: subscription lost (%r); subscribing again", feed.key, error
                )
                await hub.timer.sleep(1.0)
        pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel(feed))
        return asyncio.create_task(
            self._listen(pubsub, feed, role), name=f"live relay {feed.key}"
        )

    async def _listen(self, pubsub: Any, feed: Feed, role: _Role) -> None:
        try:
            async for message in pubsub.listen():
                self.apply(feed, role, message["data"])
        finally:
            await asyncio.shield(pubsub.aclose())

    def apply(self, feed: Feed, role: _Role, raw: bytes) -> None:
        """One leader's message, as a follower takes it."""
        message = orjson.loads(raw)
        if message["token"] == self.token:
            return
        if role.leader:
            role.contested = True
            return
        state = FeedState.from_json(message["state"])
        events = [
            FeedEvent(kind, seq, data.encode(), None)
            for kind, seq, data in message["events"]
        ]
        current = feed.state
        if current is None:
            feed.publish(state, ())
        elif message["prev"] == current.seq:
            feed.publish(state, events)
        elif state.seq > current.seq:
            log.info(
                "%s: missed events (%s -> %s): resync", feed.key, current.seq, state.seq
            )
            feed.reset(state)

    async def aclose(self) -> None:
        await self._redis.aclose()
        await self._listener.aclose()
