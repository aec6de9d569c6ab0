"""The push stream wakes screens on a change and carries no data of its own."""

from __future__ import annotations

import asyncio
import time

import pytest

from dashboard.asgi import is_interaction as _is_interaction
from dashboard.push import wake_events
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
