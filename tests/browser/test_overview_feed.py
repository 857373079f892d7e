"""The job feed's polling, on the page's fake clock (Playwright's page.clock):
one request per interval and never two at once, a cadence that changes and is
remembered, no polling while hidden, queryFailed and HTTP errors shown apart,
and backoff after failures. The page polls from the start with `?feed=poll`;
otherwise only when its stream fails (test_overview_push.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import API, open_overview, set_hidden, unavailable

FEED = API + "job-feed"
POLL = "?feed=poll"
QUERY_FAILED = {"streams": [], "clickhouseConfigured": True, "queryFailed": True}


class Feed:
    """The feed's requests, and the fake clock that drives them."""

    def __init__(self, page: Any, page_log: PageLog) -> None:
        self.page = page
        self.log = page_log

    @property
    def polls(self) -> list[str]:
        return self.log.paths(FEED)

    def run(self, ms: int) -> None:
        """Advance `ms` with no poll due."""
        count = len(self.polls)
        self.page.clock.run_for(ms)
        assert len(self.polls) == count, f"a poll within {ms} ms"

    def poll_after(self, ms: int) -> str:
        """Advance `ms`, which must start exactly one poll; wait for its answer."""
        count = len(self.polls)
        self.run(ms - 1)
        self.rendered_after(lambda: self.page.clock.run_for(1))
        assert len(self.polls) == count + 1
        return self.polls[-1]

    def rendered_after(self, action: Callable[[], None]) -> None:
        """Do `action`, then wait until the widget has shown one more answer."""
        updates = int(self.attribute("data-updates") or 0)
        action()
        self.page.locator(f"#feed[data-updates='{updates + 1}']").wait_for()

    def attribute(self, name: str) -> str | None:
        value: str | None = self.page.locator("#feed").get_attribute(name)
        return value


@pytest.fixture
def feed(page: Any, server: ServerProcess, page_log: PageLog) -> Feed:
    """The page loaded with its time standing still: the first poll is answered
    and the next is due exactly one interval later, however slow the load."""
    start = time.time()
    page.clock.install(time=start)
    page.clock.pause_at(start + 1)
    open_overview(page, server, POLL)
    watched = Feed(page, page_log)
    assert watched.polls == [FEED + "?pollMs=15000"]
    now = page.evaluate("() => Date.now()")
    assert int(watched.attribute("data-next-poll") or 0) - now == 15_000
    return watched


def test_one_request_per_interval_and_a_remembered_cadence(
    feed: Feed, page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    assert feed.poll_after(15_000) == FEED + "?pollMs=15000"
    assert feed.poll_after(15_000) == FEED + "?pollMs=15000"
    page.locator("#feed button[data-interval='5000']").click()
    assert feed.poll_after(5_000) == FEED + "?pollMs=5000"
    assert feed.poll_after(5_000) == FEED + "?pollMs=5000"
    assert feed.attribute("data-feed") == "live"
    assert page.locator("#feed-live").is_visible()

    page.reload()
    open_overview(page, server, POLL)
    assert page_log.paths(FEED)[-1] == FEED + "?pollMs=5000"
    assert page.locator("#feed button[aria-pressed=true]").inner_text() == "5s"
    page_log.assert_clean()


def test_polls_never_overlap_and_time_out(
    feed: Feed, page: Any, page_log: PageLog
) -> None:
    held: list[Any] = []
    page.route(f"**{FEED}*", lambda route: held.append(route))
    polls = len(feed.polls)
    with page.expect_request(lambda r: FEED in r.url):
        page.clock.run_for(15_000)
    feed.run(19_000)  # its answer is late: no second request meanwhile
    assert len(feed.polls) == polls + 1
    feed.rendered_after(lambda: held[0].continue_())
    assert feed.attribute("data-feed") == "live"
    with page.expect_request(lambda r: FEED in r.url):
        page.clock.run_for(15_000)
    feed.rendered_after(lambda: page.clock.run_for(20_000))  # no answer in 20 s
    assert feed.attribute("data-feed") == "stale"
    assert "No answer within 20 s" in page.locator("#feed-note").inner_text()
    page.unroute(f"**{FEED}*")
    feed.poll_after(1_000)  # the first retry comes sooner
    assert feed.attribute("data-feed") == "live"
    assert page_log.page_errors == []


def test_a_hidden_page_does_not_poll(feed: Feed, page: Any, page_log: PageLog) -> None:
    polls = len(feed.polls)
    set_hidden(page, True)
    feed.run(120_000)
    feed.rendered_after(lambda: set_hidden(page, False))  # overdue: polls at once
    assert len(feed.polls) == polls + 1
    feed.poll_after(15_000)
    page_log.assert_clean()


def test_query_failed_has_its_own_message_and_hides_live(
    feed: Feed, page: Any, page_log: PageLog
) -> None:
    rows = page.locator("#feed tbody tr").count()
    page.route(f"**{FEED}*", lambda r: r.fulfill(json=QUERY_FAILED))
    feed.poll_after(15_000)
    assert feed.attribute("data-feed") == "query-failed"
    assert page.locator("#feed-live").is_hidden()
    assert "upstream query failed" in page.locator("#feed-note").inner_text()
    assert page.locator("#feed tbody tr").count() == rows  # kept, marked stale
    assert page.locator("#feed table.stale").count() == 1
    feed.poll_after(1_000)  # a failure: retried sooner
    page.unroute(f"**{FEED}*")
    feed.poll_after(2_000)
    assert feed.attribute("data-feed") == "live"
    assert page.locator("#feed-live").is_visible()
    page_log.assert_clean()


def test_http_errors_back_off_and_keep_stale_rows(
    feed: Feed, page: Any, page_log: PageLog
) -> None:
    rows = page.locator("#feed tbody tr").count()
    assert rows > 0
    down: Callable[[Any], None] = lambda r: r.fulfill(  # noqa: E731
        status=503, json=unavailable("Job feed is unavailable")
    )
    page.route(f"**{FEED}*", down)
    feed.poll_after(15_000)
    assert feed.attribute("data-feed") == "stale"
    assert feed.attribute("data-state") == "ready"
    note = page.locator("#feed-note").inner_text()
    assert note.startswith("Stale since ")
    assert "Job feed is unavailable (HTTP 503 · SERVICE_UNAVAILABLE)" in note
    assert page.locator("#feed tbody tr").count() == rows
    assert page.locator("#feed-live").is_hidden()
    for backoff in (1_000, 2_000, 5_000, 10_000, 15_000, 15_000):  # min(15 s, …)
        feed.poll_after(backoff)
    assert [
        banner for banner in page.locator("#banner [data-route]").all_inner_texts()
    ] == ["job-feed"]
    page.unroute(f"**{FEED}*")
    feed.poll_after(15_000)
    assert feed.attribute("data-feed") == "live"
    assert page.locator("#banner").is_hidden()
    assert page_log.page_errors == []
    assert all("status of 503" in line for line in page_log.console_errors)


def test_an_empty_feed_says_so(feed: Feed, page: Any, page_log: PageLog) -> None:
    page.route(
        f"**{FEED}*",
        lambda r: r.fulfill(
            json={"streams": [], "clickhouseConfigured": True, "queryFailed": False}
        ),
    )
    feed.poll_after(15_000)
    assert feed.attribute("data-feed") == "empty"
    assert page.locator("#feed .message").inner_text() == "No active streams"
    assert page.locator("#feed-live").is_visible()
    page_log.assert_clean()
