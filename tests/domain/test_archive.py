"""The report stream's archive (domain/store/archive.py): entries written to gzip JSON Lines per
UTC day come back through read_archive exactly as the stream gave them, once each, in order."""

from __future__ import annotations

import gzip
import logging
from datetime import UTC, datetime

import orjson
import pytest

from domain.store.archive import EventArchive, read_archive
from domain.store.streams import EventKeys, EventStore, decode_entry
from feeds.model import Event, Kind, Severity

pytestmark = pytest.mark.redis

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def rows_from_the_stream(client, count: int = 30):
    """Real entries: appended by EventStore (one a superseding CAP-like update), read back by XRANGE,
    with stream ids two hours apart so they span days."""
    store = EventStore(client)
    for n in range(count):
        extra = {"cap": {"references_ids": ["cap:old"]}} if n == 3 else {"ünïcode": "Sète"}
        store.append([Event(id=f"usgs:a{n}", source="usgs", kind=Kind.EARTHQUAKE, title=f"M 4 <b>{n}</b>", time=T0,
                            lat=35.0, lon=-117.0, severity=Severity.MINOR, extra=extra)])
    rows = client.xrange(EventKeys.EVENTS)
    base = int(T0.timestamp() * 1000)
    return [(f"{base + n * 7_200_000}-{n % 2}".encode(), fields) for n, (_, fields) in enumerate(rows)]


def test_archived_entries_read_back_as_the_stream_gave_them(redis_client, tmp_path):
    rows = rows_from_the_stream(redis_client)
    folder = tmp_path / "archive" / "events"
    archive = EventArchive(folder)
    assert archive.append(rows[:10]) == 10
    assert archive.append(rows[5:]) == 25  # a repeated write (a crash before the trim): read once
    assert [p.name[:10] for p in archive.files()] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    back = list(read_archive(folder))
    assert back == [decode_entry(sid, fields) for sid, fields in rows]
    assert back[3].supersedes == ("cap:old",) and back[1].event["extra"] == {"ünïcode": "Sète"}
    # Readable by hand too: zcat | jq.
    first = orjson.loads(gzip.open(archive.files()[0]).readline())
    assert first["sid"] == rows[0][0].decode() and first["e"]["title"] == "M 4 <b>0</b>"
    # Bounds, for a replay that takes over from the stream.
    middle = rows[12][0].decode()
    assert [e.stream_id for e in read_archive(folder, after=middle)] == [r[0].decode() for r in rows[13:]]
    assert [e.stream_id for e in read_archive(folder, before=middle)] == [r[0].decode() for r in rows[:12]]
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in archive.files()} == {0o600}


def test_a_file_cut_short_costs_only_its_tail(redis_client, tmp_path, caplog):
    rows = rows_from_the_stream(redis_client)
    archive = EventArchive(tmp_path)
    archive.append(rows)
    damaged = archive.files()[1]
    damaged.write_bytes(damaged.read_bytes()[:-20])
    with caplog.at_level(logging.ERROR, logger="domain.store.archive"):
        back = [e.stream_id for e in read_archive(tmp_path)]
    day2 = [r[0].decode() for r in rows if datetime.fromtimestamp(int(r[0].split(b"-")[0]) / 1000, UTC).day == 2]
    assert set(back) >= {r[0].decode() for r in rows} - set(day2)  # the other days are whole
    assert back == sorted(back, key=lambda s: tuple(int(x) for x in s.split("-")))
    assert "unreadable" in caplog.text and damaged.name in caplog.text
