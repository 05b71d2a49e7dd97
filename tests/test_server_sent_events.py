"""Server-sent events cut from a byte stream however the network splits it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.execution.providers.sse import EventDecoder, ServerSentEvent, event_batches

STREAM = (
    b": a comment, skipped\n"
    b"data: {\"a\": 1}\n"
    b"\n"
    b"event: error\n"
    b"data: first line\n"
    b"data:second line\n"
    b"id: 7\n"
    b"retry: 10\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EVENTS = [
    ServerSentEvent("message", b'{"a": 1}'),
    ServerSentEvent("error", b"first line\nsecond line"),
    ServerSentEvent("message", b"[DONE]"),
]


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = EventDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.end()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in zip(points, points[1:], strict=False)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_fields_up_to_a_blank_line_make_an_event_whatever_the_line_ends(newline: bytes) -> None:
    assert decode([STREAM.replace(b"\n", newline)]) == EVENTS


@given(cuts=st.lists(st.integers(min_value=0), max_size=12), newline=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_events_do_not_depend_on_where_the_network_cut_the_stream(cuts: list[int], newline: bytes) -> None:
    # A CRLF cut between its CR and its LF is one line end, not two (which would end an event).
    assert decode(split(STREAM.replace(b"\n", newline), cuts)) == EVENTS


def test_an_event_the_stream_ends_in_without_a_blank_line_still_counts() -> None:
    assert decode([b"data: last"]) == [ServerSentEvent("message", b"last")]
    assert decode([b"data: last\r"]) == [ServerSentEvent("message", b"last")]
    assert decode([b"data: last\n"]) == [ServerSentEvent("message", b"last")]


def test_blank_lines_without_data_make_no_event() -> None:
    assert decode([b"\n\n: keep-alive\n\nevent: ping\n\n"]) == []


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert decode([b"data:  two spaces\n\ndata\n\n"]) == [
        ServerSentEvent("message", b" two spaces"),
        ServerSentEvent("message", b""),
    ]


def test_json_reads_what_orjson_refuses() -> None:
    assert ServerSentEvent("message", b'{"text": "\\ud800"}').json() == {"text": "\ud800"}
    with pytest.raises(ValueError):
        ServerSentEvent("message", b"{not json").json()


async def test_batches_hold_the_events_each_read_completed() -> None:
    async def reads() -> AsyncIterator[bytes]:
        for chunk in (b"data: 1\n\ndata: 2\n\nda", b"ta: 3\n", b"\n", b"data: 4"):
            await asyncio.sleep(0)
            yield chunk

    batches = [[event.data for event in batch] async for batch in event_batches(reads())]

    assert batches == [[b"1", b"2"], [b"3"], [b"4"]]
