"""The job feed pushed to the page: its list comes from the stream and changes
with it, with no polling; when the stream is cut the page reconnects, then polls
the cached route, then returns to push as soon as a stream works again; a hidden
page closes its stream and opens a new one when shown.

The first test runs against a server of its own that polls its upstream every
2 s, whose faults make the feed go stale and fresh again. The second drives the
page's timers with Playwright's page.clock and plays the stream's part with
page.route: a stream that ends (cut), connections that fail, then the real one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import API, open_overview, set_hidden

STREAM = API + "job-feed/stream"
POLLS = API + "job-feed?"
POLL_MS = 15_000  # the widget's default cadence
PUSH_RETRY_MS = 20_000  # feed-source.js PUSH_RETRY_MS
WAIT_MS = 20_000  # for what the server does on its own clock


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose hub polls every 2 s (the browser server's keeps its one
    snapshot)."""
    process = ServerProcess(
        tmp_path_factory.mktemp("push-server"), JOB_FEED_PUSH_INTERVAL="2"
    )
    process.start()
    yield process
    process.stop()


def feed_state(page: Any) -> str | None:
    value: str | None = page.locator("#feed").get_attribute("data-feed")
    return value


def wait_feed(page: Any, state: str, timeout: float = WAIT_MS) -> None:
    page.locator(f"#feed[data-feed='{state}']").wait_for(timeout=timeout)


def test_the_feed_updates_from_push_without_polling(
    page: Any, push_server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, push_server)
    assert feed_state(page) == "live"
    assert page.locator("#feed tbody tr").count() > 0
    push_server.set_faults({"dashboard/job-feed": {"status": 500}})
    wait_feed(page, "query-failed")  # a stale status, pushed: the rows are kept
    assert page.locator("#feed table.stale").count() == 1
    assert "upstream query failed" in page.locator("#feed-note").inner_text()
    push_server.clear_faults()
    wait_feed(page, "live")  # fresh again, pushed
    assert page.locator("#feed table.stale").count() == 0
    assert page_log.paths(STREAM) == [STREAM]  # one stream all along
    assert page_log.paths(POLLS) == []  # and not one poll
    page_log.assert_clean()


def _event(kind: str, payload: dict[str, Any]) -> str:
    return f"id: {payload['seq']}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n"


def _entry(n: int) -> dict[str, Any]:
    return {
        "id": f"pushed-{n}",
        "pipeline": "live-video-to-video",
        "model": f"pushed-model-{n}",
        "status": "online",
        "startedAt": f"2026-11-25T14:0{n}:00Z",
        "gateway": "gateway.example",
        "orchestratorUrl": f"https://pushed-{n}.example:8935",
        "inputFps": 30.0,
        "outputFps": 15.0,
        "lastSeen": "2026-11-25T14:09:00Z",
        "durationSeconds": 60.0,
        "runningFor": "1m 0s",
    }


# One stream's worth, then its end: a snapshot of two streams, then a delta that
# adds a third.
CUT_STREAM = (
    "retry: 5000\n\n"
    + _event(
        "snapshot",
        {
            "seq": 100,
            "keys": ["k1", "k2"],
            "streams": [_entry(1), _entry(2)],
            "stale": False,
            "lastSuccessAt": "2026-11-25T14:09:00.000Z",
        },
    )
    + _event(
        "delta",
        {
            "seq": 101,
            "added": [{"key": "k3", "stream": _entry(3)}],
            "updated": [],
            "removed": [],
        },
    )
)


class Stream:
    """Plays the stream's part: the cut stream first, then failures, then (once
    `release()`d) the real one."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.answered = 0
        self.released = False
        page.route(f"**{STREAM}*", self._answer)

    def _answer(self, route: Any) -> None:
        self.answered += 1
        if self.released:
            route.continue_()
        elif self.answered == 1:
            route.fulfill(
                status=200,
                headers={"content-type": "text/event-stream"},
                body=CUT_STREAM,
            )
        else:
            route.abort()

    def release(self) -> None:
        self.released = True


def next_poll(page: Any) -> int:
    return int(page.locator("#feed").get_attribute("data-next-poll") or 0)


def test_a_cut_stream_falls_back_to_polling_and_returns_to_push(
    page: Any, server: ServerProcess, page_log: PageLog, tmp_path: Path
) -> None:
    start = time.time()
    page.clock.install(time=start)
    page.clock.pause_at(start + 1)
    stream = Stream(page)
    open_overview(page, server)
    models = page.locator("#feed tbody tr .sub").all_inner_texts()
    assert sorted(models) == ["pushed-model-1", "pushed-model-2", "pushed-model-3"]
    assert page_log.paths(POLLS) == []
    # The stream ended: reconnects after 1 s, then 2 s, both fail.
    page.wait_for_function(
        "() => Number(document.querySelector('#feed').dataset.nextPoll) > 0"
    )
    for wait in (1_000, 2_000):
        due = next_poll(page)
        with page.expect_request(lambda r: STREAM in r.url):
            page.clock.run_for(wait)
        page.wait_for_function(
            "(due) => Number(document.querySelector('#feed').dataset.nextPoll) !== due",
            arg=due,
        )
    # Three failed connections: the cached route is polled instead.
    page.locator("#feed[data-updates='3']").wait_for()
    assert page_log.paths(POLLS) == [API + "job-feed?pollMs=15000"]
    polled = page.locator("#feed tbody tr .sub").all_inner_texts()
    assert "pushed-model-1" not in polled  # the server's own streams
    assert stream.answered == 3
    with page.expect_request(lambda r: POLLS in r.url):
        page.clock.run_for(POLL_MS)
    page.locator("#feed[data-updates='4']").wait_for()
    # Push works again: the next try, 20 s after the fallback, takes over.
    stream.release()
    with page.expect_request(lambda r: STREAM in r.url):
        page.clock.run_for(PUSH_RETRY_MS - POLL_MS)
    page.locator("#feed[data-updates='5']").wait_for()
    assert stream.answered == 4
    polls = len(page_log.paths(POLLS))
    page.clock.run_for(8 * POLL_MS)  # no poll comes any more
    assert len(page_log.paths(POLLS)) == polls == 2
    assert feed_state(page) == "live"
    assert page.locator("#feed tbody tr").count() > 0
    assert page_log.page_errors == []


def test_a_hidden_page_holds_no_stream(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    assert feed_state(page) == "live"
    updates = int(page.locator("#feed").get_attribute("data-updates") or 0)
    with page.expect_event("requestfailed", lambda r: STREAM in r.url):
        set_hidden(page, True)  # the stream is closed
    assert page_log.paths(STREAM) == [STREAM]
    with page.expect_request(lambda r: STREAM in r.url):
        set_hidden(page, False)  # and opened again: a snapshot of now
    page.locator(f"#feed[data-updates='{updates + 1}']").wait_for()
    assert page_log.paths(STREAM) == [STREAM, STREAM]
    assert page_log.paths(POLLS) == []
    assert page_log.page_errors == []
