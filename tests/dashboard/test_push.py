"""The push stream wakes screens on a change; with a deliverer (every web server has one), a change of
the picture alone comes with its delta for the stream's reader."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from dashboard.asgi import is_interaction as _is_interaction
from dashboard.push import wake_events, wake_events_per_stream
from domain.access.tlp import TLP
from domain.agencies.access import Reader
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


def _incident(client, iid: str, owners: list[dict[str, str]] | None = None) -> str:
    doc = {"id": iid, "title": iid, "kind": "security", "severity": "moderate", "lat": 42.35, "lon": -71.06,
           "time": "2026-12-04T08:00:00Z", "reports": [{"event_id": "e:" + iid, "source": "cad"}]}
    if owners:
        doc["owners"] = owners
    client.hset(IncidentKeys.INCIDENTS, iid, orjson.dumps(doc))
    return client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": iid, "op": "upsert"}).decode()


def _message(redis_server, redis_client, calls: list[tuple[str, str]] | None = None):
    from dashboard.panels.live import push_message
    from domain.config.loader import load_config

    made = push_message(load_config(env={"REDIS_URL": redis_server.url, "WATCHFLOOR_EXERCISE": "false"}),
                        lambda: redis_client)

    def message(reader, cursor):
        if calls is not None:
            calls.append((reader.agency, cursor))
        return made(reader, cursor)

    return message


async def _next_data(stream) -> bytes:
    while True:
        message = await asyncio.wait_for(stream.__anext__(), timeout=5)
        if not message.startswith(b":"):
            return message


def test_a_change_of_the_picture_comes_with_its_delta_for_the_streams_reader(redis_server, redis_client):
    """Each stream gets the rows its reader may receive (two agencies at one marking), from its cursor
    to the new one, as one ``delta`` message; an alert still only wakes the screen."""
    from dashboard.push import deliverer

    start = _incident(redis_client, "inc:before")
    message = _message(redis_server, redis_client)

    async def run() -> dict[str, list[bytes]]:
        streams = {agency: wake_events(redis_server.url, max_seconds=5, deliver=deliverer(
            redis_server.url, lambda agency=agency: Reader(TLP.AMBER, agency), message)) for agency in ("MBTA", "BFD")}
        got: dict[str, list[bytes]] = {a: [await s.__anext__()] for a, s in streams.items()}
        _incident(redis_client, "inc:public")
        _incident(redis_client, "inc:package", [{"agency": "MBTA", "sharing": "own", "event_id": "e:inc:package"}])
        for agency, stream in streams.items():
            got[agency].append(await _next_data(stream))
        redis_client.xadd(AlertKeys.ALERTS, {"id": "a1"})
        for agency, stream in streams.items():
            got[agency].append(await _next_data(stream))
            await stream.aclose()
        return got

    got = asyncio.run(run())
    newest = redis_client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0].decode()
    for agency, want in (("MBTA", {"inc:public", "inc:package"}), ("BFD", {"inc:public"})):
        first, delta, alert = got[agency]
        assert first.startswith(b"retry:") and f"id: {start},".encode() in first
        head, _, data = delta.partition(b"\ndata: ")
        assert head.startswith(f"id: {newest},".encode()) and head.endswith(b"event: delta"), delta[:200]
        body = orjson.loads(data)
        assert body["from"] == start and body["cursor"] == newest and body["pushed"] is True
        shown = {row["id"] for row in body["rows"] if not row.get("hide")}
        # Both new incidents may come in one delta or two (the stream read as they were written).
        if shown != want:
            rest = orjson.loads(alert.partition(b"\ndata: ")[2]) if b"event: delta" in alert else {"rows": []}
            shown |= {row["id"] for row in rest["rows"] if not row.get("hide")}
        assert shown == want, (agency, shown)
        assert alert.endswith(b"data: change\n\n") or b"event: delta" in alert


def test_streams_of_one_reader_share_one_delta(redis_server, redis_client):
    from dashboard.push import deliverer

    _incident(redis_client, "inc:before")
    calls: list[tuple[str, str]] = []
    message = _message(redis_server, redis_client, calls)

    async def run() -> list[bytes]:
        streams = [wake_events(redis_server.url, max_seconds=5, deliver=deliverer(
            redis_server.url, lambda: Reader(TLP.GREEN, "BFD"), message)) for _ in range(40)]
        for stream in streams:
            await stream.__anext__()
        _incident(redis_client, "inc:one")
        got = [await _next_data(stream) for stream in streams]
        for stream in streams:
            await stream.aclose()
        return got

    got = asyncio.run(run())
    assert all(b"event: delta" in g and b"inc:one" in g for g in got)
    assert len(calls) == 1, f"40 screens of one reader made {len(calls)} deltas"


def test_a_stream_whose_session_ended_gets_no_more_data(redis_server, redis_client, monkeypatch):
    """The session is read again before a delta once the last check is RECHECK_SECONDS old: signed
    out, the stream says so, sends nothing else and ends."""
    from dashboard import push

    monkeypatch.setattr(push, "RECHECK_SECONDS", 0.0)
    _incident(redis_client, "inc:before")
    signed_in = [True]
    message = _message(redis_server, redis_client)

    async def run() -> list[bytes]:
        stream = wake_events(redis_server.url, max_seconds=5, deliver=push.deliverer(
            redis_server.url, lambda: Reader(TLP.GREEN) if signed_in[0] else None, message))
        got = [await stream.__anext__()]
        _incident(redis_client, "inc:while-signed-in")
        got.append(await _next_data(stream))
        signed_in[0] = False
        _incident(redis_client, "inc:after-sign-out")
        got.append(await _next_data(stream))
        got.extend([m async for m in stream])
        return got

    got = asyncio.run(run())
    assert b"inc:while-signed-in" in got[1]
    assert got[2] == push.SIGNED_OUT and got[3:] == [], got[2:]
    assert not any(b"inc:after-sign-out" in g for g in got)


def _lines_until(sock_file, wanted: bytes, limit: int = 200) -> list[bytes]:
    lines = []
    for _ in range(limit):
        line = sock_file.readline()
        if not line:
            break
        lines.append(line)
        if wanted in line:
            break
    return lines


def test_over_http_the_stream_carries_the_accounts_share_until_its_session_is_revoked(redis_server, redis_client,
                                                                                       monkeypatch):
    """The real web app, over loopback: a signed-in viewer's stream brings a new incident as a delta;
    once the session is revoked (an admin ended it), the next change ends the stream with
    ``signed-out`` and carries no row of it. The account's agency is read: an own-only item of
    another agency never comes."""
    import socket

    from dashboard import push
    from domain.access.accounts import AccountStore, Role
    from domain.access.sessions import SessionLimits, SessionStore
    from domain.agencies.members import set_agency
    from domain.agencies.store import AgencyStore
    from domain.config.loader import load_config
    from tests.domain.test_access import PASSWORD, serve, stop

    monkeypatch.setattr(push, "RECHECK_SECONDS", 0.0)
    monkeypatch.delenv("WATCHFLOOR_CONFIG", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("WATCHFLOOR_EXERCISE", "false")
    import dashboard.app

    config = load_config()
    web = serve(dashboard.app.create_app(config).server)
    try:
        AgencyStore(redis_client).add("BFD", "Boston Fire Department", kind="fire-ems")
        AgencyStore(redis_client).add("MBTA", "MBTA Transit Police", kind="transit")
        AccountStore(redis_client).create("vera", Role.VIEWER, PASSWORD)
        set_agency(redis_client, "vera", "BFD")
        cookie = web.session("vera")
        _incident(redis_client, "inc:before")
        sock = socket.create_connection(("127.0.0.1", web.port), timeout=10)
        sock.sendall(f"GET /api/push HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\nAccept: text/event-stream\r\n"
                     f"Cookie: {cookie}\r\n\r\n".encode())
        stream = sock.makefile("rb")
        head = _lines_until(stream, b"retry:")
        assert head and head[0].startswith(b"HTTP/1.1 200"), head[:3]
        _incident(redis_client, "inc:mbta-own", [{"agency": "MBTA", "sharing": "own", "event_id": "e:inc:mbta-own"}])
        _incident(redis_client, "inc:shared")
        got = _lines_until(stream, b"inc:shared")
        rows = [row for line in got if line.startswith(b"data: {") for row in orjson.loads(line[6:])["rows"]]
        assert {r["id"] for r in rows if not r.get("hide")} == {"inc:shared"}, rows
        # (an item the reader may not see comes, if at all, as a bare removal: its id, nothing of it)
        assert all(r.get("hide") and r.get("title") is None and r.get("lat") is None
                   for r in rows if r["id"] == "inc:mbta-own"), rows
        sid = cookie.split("=", 1)[1]
        assert SessionStore(redis_client, SessionLimits.from_config(config)).revoke(sid)
        _incident(redis_client, "inc:after-revocation")
        rest = b"".join(_lines_until(stream, b"signed-out"))
        assert b"event: signed-out" in rest, rest[-500:]
        assert b"inc:after-revocation" not in rest
        sock.close()
    finally:
        stop(web)


def test_an_aggregated_pictures_stream_carries_its_bins_on_from_the_pages_cursor(redis_server, redis_client):
    """Past map_max_points the page's cursor is "b:<id>" (hexagon bins): a stream opened with
    ``binned`` sends the bins and markers a change touched, from exactly that cursor, so the page
    takes it without a poll."""
    import random

    from dashboard.push import deliverer
    from domain.picture import bins as aggregate
    from domain.picture import incidents
    from tests.domain.test_aggregate import incident

    before = aggregate.current()
    try:
        aggregate.configure(20, 4.0, [])
        pipe = redis_client.pipeline()
        for i in range(60):
            r = incident(i, random.Random(i), reports=[{"event_id": f"e{i}"}])
            pipe.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
            pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
        pipe.execute()
        reader = Reader(TLP.GREEN)
        _rows, page_cursor = incidents.snapshot(redis_client, reader)
        assert page_cursor.startswith("b:"), page_cursor
        message = _message(redis_server, redis_client)

        async def run() -> bytes:
            stream = wake_events(redis_server.url, max_seconds=5,
                                 deliver=deliverer(redis_server.url, lambda: reader, message, binned=True))
            await stream.__anext__()
            r = incident(500, random.Random(500), reports=[{"event_id": "e500"}])
            redis_client.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
            redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
            got = await _next_data(stream)
            await stream.aclose()
            return got

        got = asyncio.run(run())
    finally:
        aggregate._AGGREGATOR = before
    assert b"event: delta" in got, got[:300]
    body = orjson.loads(got.partition(b"\ndata: ")[2])
    newest = redis_client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0].decode()
    assert body["from"] == page_cursor and body["cursor"] == "b:" + newest
    assert body["rows"], "the bins and markers the change touched"
    assert got.startswith(f"id: {newest},".encode())
