"""The job feed's events: stable keys, material changes, the fps deadband,
statuses, sequence numbers and encoding (app/live/events.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.live.events import (
    FPS_DEADBAND,
    SEQ_EPOCH,
    FeedEvent,
    FeedState,
    advance,
    initial,
    iso_time,
    next_seq,
    stream_keys,
)

WALL = SEQ_EPOCH + 60_000_000.0


def entry(n: int, **fields: Any) -> dict[str, Any]:
    """One REST entry; `id` and `lastSeen` change every poll upstream."""
    base: dict[str, Any] = {
        "id": f"event-{n}-{fields.pop('poll', 0)}",
        "pipeline": "live-video-to-video",
        "model": "streamdiffusion-sdxl",
        "status": "online",
        "startedAt": f"2026-11-25T14:{n:02d}:00Z",
        "gateway": "gw-a",
        "orchestratorUrl": "https://o1.example:8935",
        "inputFps": 30.0,
        "outputFps": 15.0,
        "lastSeen": "2026-11-25T14:59:00Z",
        "durationSeconds": 12.5,
        "runningFor": "12s",
    }
    base.update(fields)
    return base


def first_state(streams: list[dict[str, Any]]) -> FeedState:
    return initial(streams, WALL, next_seq(0, WALL))


def payloads(events: list[FeedEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.kind, dict(e.payload)) for e in events]


def test_keys_are_start_and_gateway_not_the_upstream_id() -> None:
    before = [entry(1, poll=1), entry(2, poll=1)]
    after = [entry(2, poll=2), entry(1, poll=2)]
    assert stream_keys(before) == [
        "2026-11-25T14:01:00Z@gw-a",
        "2026-11-25T14:02:00Z@gw-a",
    ]
    assert sorted(stream_keys(after)) == sorted(stream_keys(before))


def test_streams_sharing_start_and_gateway_get_distinct_keys_in_a_fixed_order() -> None:
    a = entry(1, orchestratorUrl="https://a.example")
    b = entry(1, orchestratorUrl="https://b.example")
    assert stream_keys([a, b]) == stream_keys([b, a])[::-1]
    assert stream_keys([b, a]) == [
        "2026-11-25T14:01:00Z@gw-a#2",
        "2026-11-25T14:01:00Z@gw-a",
    ]
    assert stream_keys([entry(1, gateway=None)]) == ["2026-11-25T14:01:00Z@-"]


def test_a_poll_that_changes_only_ids_times_and_small_fps_moves_is_not_news() -> None:
    state = first_state([entry(1), entry(2)])
    moved = [
        entry(2, poll=2, outputFps=15.0 + FPS_DEADBAND / 2, lastSeen="later"),
        entry(1, poll=2, inputFps=30.0 - FPS_DEADBAND / 2, runningFor="20s"),
    ]
    after, events = advance(state, moved, WALL, WALL + 5)
    assert events == []
    assert after.seq == state.seq
    assert after.streams == moved  # a joiner's snapshot is this poll's REST body


@pytest.mark.parametrize(
    "field",
    ["status", "model", "pipeline", "orchestratorUrl"],
)
def test_a_material_change_is_an_update_with_the_whole_entry(field: str) -> None:
    state = first_state([entry(1), entry(2)])
    changed = entry(2, poll=2, **{field: "something else"})
    after, events = advance(state, [entry(1, poll=2), changed], WALL, WALL + 5)
    [(kind, payload)] = payloads(events)
    assert kind == "delta"
    assert payload["added"] == payload["removed"] == []
    assert payload["updated"] == [
        {"key": "2026-11-25T14:02:00Z@gw-a", "stream": changed}
    ]
    assert payload["seq"] == after.seq > state.seq


def test_a_gateway_change_is_another_stream() -> None:
    state = first_state([entry(1)])
    moved = entry(1, gateway="gw-b")
    _, events = advance(state, [moved], WALL, WALL + 5)
    [(_, payload)] = payloads(events)
    assert payload["removed"] == ["2026-11-25T14:01:00Z@gw-a"]
    assert payload["added"] == [{"key": "2026-11-25T14:01:00Z@gw-b", "stream": moved}]


def test_fps_drift_is_news_once_it_leaves_the_deadband_of_every_value_sent() -> None:
    state = first_state([entry(1, outputFps=15.0)])
    step = FPS_DEADBAND * 0.4
    values = [15.0 + step, 15.0 + 2 * step, 15.0 + 3 * step]
    kinds = []
    for poll, value in enumerate(values, start=2):
        state, events = advance(
            state, [entry(1, poll=poll, outputFps=value)], WALL, WALL + poll
        )
        kinds.append([e.kind for e in events])
    # 15.0 -> 15.8 -> 16.6 stay within 2.0 of 15.0; 17.4 does not.
    assert kinds == [[], [], ["delta"]]


def test_fps_appearing_or_vanishing_is_news() -> None:
    state = first_state([entry(1, inputFps=None)])
    state, events = advance(state, [entry(1, inputFps=29.0)], WALL, WALL + 5)
    assert [e.kind for e in events] == ["delta"]
    _, events = advance(state, [entry(1, inputFps=None)], WALL, WALL + 10)
    assert [e.kind for e in events] == ["delta"]


def test_streams_that_start_and_end_are_added_and_removed() -> None:
    state = first_state([entry(1), entry(2)])
    after, events = advance(state, [entry(3), entry(1)], WALL, WALL + 5)
    [(_, payload)] = payloads(events)
    assert payload["added"] == [
        {"key": "2026-11-25T14:03:00Z@gw-a", "stream": entry(3)}
    ]
    assert payload["removed"] == ["2026-11-25T14:02:00Z@gw-a"]
    assert after.keys == ["2026-11-25T14:03:00Z@gw-a", "2026-11-25T14:01:00Z@gw-a"]


def test_a_failed_poll_keeps_the_list_and_says_stale_once() -> None:
    state = first_state([entry(1)])
    stale, events = advance(state, None, 0, WALL + 5)
    assert payloads(events) == [
        (
            "status",
            {"seq": stale.seq, "stale": True, "lastSuccessAt": iso_time(WALL)},
        )
    ]
    assert stale.streams == state.streams
    again, events = advance(stale, None, 0, WALL + 10)
    assert events == []
    assert again is stale


def test_recovery_sends_the_delta_then_fresh_status() -> None:
    state = first_state([entry(1)])
    stale, _ = advance(state, None, 0, WALL + 5)
    fresh, events = advance(stale, [entry(2)], WALL + 9, WALL + 10)
    assert [e.kind for e in events] == ["delta", "status"]
    delta, status = events
    assert status.payload == {
        "seq": fresh.seq,
        "stale": False,
        "lastSuccessAt": iso_time(WALL + 9),
    }
    assert stale.seq < delta.seq < status.seq


def test_a_first_failed_poll_is_an_empty_stale_state() -> None:
    state = initial(None, 0, 7)
    assert (state.streams, state.stale, state.last_success_at) == ([], True, None)


def test_seq_counts_seconds_from_2025_and_never_repeats() -> None:
    assert next_seq(0, SEQ_EPOCH + 100.9) == 100
    assert next_seq(100, SEQ_EPOCH + 100.2) == 101
    assert next_seq(5, SEQ_EPOCH + 100) == 100
    # GraphQL's Int holds it for decades.
    assert next_seq(0, SEQ_EPOCH + 60 * 365.25 * 86400) < 2**31


def test_an_event_is_encoded_once_as_json_and_as_an_sse_frame() -> None:
    event = FeedEvent.of("status", {"seq": 42, "stale": True, "lastSuccessAt": None})
    assert event.data == b'{"seq":42,"stale":true,"lastSuccessAt":null}'
    assert event.sse == b"id: 42\nevent: status\ndata: " + event.data + b"\n\n"
    relayed = FeedEvent("status", 42, event.data, None)
    assert relayed.payload == event.payload


def test_a_snapshot_carries_the_streams_as_given() -> None:
    streams = [entry(1, inputFps=30, outputFps=14.25)]
    state = first_state(streams)
    snapshot = state.snapshot()
    assert snapshot.kind == "snapshot"
    assert orjson.loads(snapshot.data) == {
        "seq": state.seq,
        "keys": ["2026-11-25T14:01:00Z@gw-a"],
        "streams": streams,
        "stale": False,
        "lastSuccessAt": iso_time(WALL),
    }
    assert orjson.dumps(streams) in snapshot.data


def test_state_survives_the_trip_to_another_worker() -> None:
    state = first_state([entry(1), entry(2, inputFps=None)])
    state, _ = advance(
        state, [entry(1, outputFps=15.5), entry(2, inputFps=None)], WALL, WALL
    )
    copy = FeedState.from_json(orjson.loads(orjson.dumps(state.to_json())))
    assert copy == state
