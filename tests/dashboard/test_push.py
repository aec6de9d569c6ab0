"""The push stream wakes screens on a change and carries no data of its own."""

from __future__ import annotations

import asyncio
import time

import pytest

from dashboard.asgi import is_interaction as _is_interaction
from dashboard.push import wake_events, wake_events_per_stream
from domain.operations.keys import AlertKeys
from domain.picture.keys import IncidentKeys

pytestmark = pytest.mark.redis


def test_a_change_wakes_the_stream_and_nothing_else_does(redis_server, redis_client):
    async def run() -> list[tuple[float, bytes]]:
        got: list[tuple[float, bytes]] = []
        stream = wake_events(redis_server.url, max_seconds=3)
        got.append((time.monotonic(), await stream.__anext__()))  # the retry hint
        loop = asyncio.get_running_loop()
        sent = time.monotonic()
        loop.call_later(0.3, lambda: redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:a", "op": "upsert"}))
        got.append((time.monotonic() - sent, await stream.__anext__()))
        await stream.aclose()
        return got

    got = asyncio.run(run())
    assert got[0][1].startswith(b"retry:")
    assert got[1][1].startswith(b"id: ") and got[1][1].endswith(b"data: change\n\n")
    assert b"inc:a" not in got[1][1], "the stream says that something changed, never what"


def test_an_alert_also_wakes_the_stream(redis_server, redis_client):
    async def run() -> bytes:
        stream = wake_events(redis_server.url, max_seconds=3)
        await stream.__anext__()
        asyncio.get_running_loop().call_later(0.2, lambda: redis_client.xadd(AlertKeys.ALERTS, {"id": "a1"}))
        message = await stream.__anext__()
        await stream.aclose()
        return message

    assert asyncio.run(run()).endswith(b"data: change\n\n")


def test_a_reconnecting_screen_is_woken_for_what_changed_while_it_was_away(redis_server, redis_client):
    first = redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:before", "op": "upsert"}).decode()
    alerts = redis_client.xadd(AlertKeys.ALERTS, {"id": "a0"}).decode()
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:during-reconnect", "op": "upsert"})

    async def run() -> bytes:
        stream = wake_events(redis_server.url, max_seconds=3, last_event_id=f"{first},{alerts}")
        await stream.__anext__()
        message = await asyncio.wait_for(stream.__anext__(), timeout=2)
        await stream.aclose()
        return message

    assert asyncio.run(run()).endswith(b"data: change\n\n")


def test_wake_ups_do_not_count_as_a_persons_activity():
    passive = frozenset({'*"wf":"wake"}.data'})
    woke = b'{"changedPropIds": ["{\\"screen\\":\\"desk\\",\\"wf\\":\\"wake\\"}.data"]}'
    clicked = b'{"changedPropIds": ["{\\"screen\\":\\"desk\\",\\"wf\\":\\"selected\\"}.data"]}'
    assert _is_interaction(woke, passive) is False
    assert _is_interaction(clicked, passive) is True


def test_many_open_streams_share_one_reader_and_all_wake(redis_server, redis_client):
    """500 screens must not mean 500 Redis connections: one reader per process wakes them all."""
    def connections() -> int:
        return len(redis_client.client_list())

    async def run() -> tuple[int, list[bytes]]:
        before = connections()
        streams = [wake_events(redis_server.url, max_seconds=5) for _ in range(50)]
        for stream in streams:
            assert (await stream.__anext__()).startswith(b"retry:")
        during = connections() - before
        asyncio.get_running_loop().call_later(0.2, lambda: redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "x"}))
        woken = await asyncio.wait_for(asyncio.gather(*(s.__anext__() for s in streams)), timeout=5)
        for stream in streams:
            await stream.aclose()
        return during, woken

    during, woken = asyncio.run(run())
    assert during <= 1, f"{during} new Redis connections for 50 open streams"
    assert all(m.startswith(b"id: ") and m.endswith(b"data: change\n\n") for m in woken)


def test_a_store_that_does_not_answer_says_degraded():
    async def run() -> bytes:
        stream = wake_events("redis://127.0.0.1:9/0", max_seconds=3)
        message = await asyncio.wait_for(stream.__anext__(), timeout=15)
        await stream.aclose()
        return message

    assert asyncio.run(run()) == b"event: degraded\ndata: store\n\n"


def test_the_former_per_stream_reader_still_wakes(redis_server, redis_client):
    async def run() -> bytes:
        stream = wake_events_per_stream(redis_server.url, max_seconds=3)
        await stream.__anext__()
        asyncio.get_running_loop().call_later(0.2, lambda: redis_client.xadd(AlertKeys.ALERTS, {"id": "a2"}))
        message = await stream.__anext__()
        await stream.aclose()
        return message

    assert asyncio.run(run()).endswith(b"data: change\n\n")


def test_the_first_message_sets_the_resume_point_without_waking(redis_server, redis_client):
    """A screen whose stream broke before any change (its web process killed) must still be woken,
    on reconnecting, for a change made meanwhile: the opening message carries the ids (no data)."""
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:old", "op": "upsert"})

    async def run() -> tuple[bytes, bytes]:
        stream = wake_events(redis_server.url, max_seconds=2)
        opening = await stream.__anext__()
        await stream.aclose()  # the process dies
        last_id = opening.split(b"id: ")[1].split(b"\n")[0].decode()
        redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:while-away", "op": "upsert"})
        again = wake_events(redis_server.url, max_seconds=2, last_event_id=last_id)  # the browser reconnects
        await again.__anext__()
        woken = await asyncio.wait_for(again.__anext__(), timeout=2)
        await again.aclose()
        return opening, woken

    opening, woken = asyncio.run(run())
    assert b"\nid: " in opening and b"data:" not in opening
    assert woken.endswith(b"data: change\n\n")
