"""The report stream's archive: what ``wf:events`` no longer keeps, in compressed files a replay reads.

The fuser trims ``wf:events`` past ``events_retention_days`` (workers/retention.py) and writes every
entry it trims here first, fsynced, so nothing leaves the store without being on disk. Layout, under
``<data_dir>/archive/events/`` (the folder 0700, the files 0600, as the rest of the data folder)::

    YYYY-MM-DD.jsonl.gz   the entries of that UTC day (by stream id), in stream order, one JSON line
                          each: {"sid": "<ms>-<seq>", "id": ..., "op": "new|update", "e": {event},
                          "sup": "<ids it supersedes>"}; one gzip member per write (zcat reads it)

:func:`read_archive` gives the entries back as :class:`~domain.store.streams.StreamEntry` in stream
order (what a replay feeds the fuser, before what the stream still holds). A write repeated after a
crash (the trim that should follow it never happened) repeats entries; the reader skips them, since
stream ids only grow.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from domain.store.streams import StreamEntry

log = logging.getLogger(__name__)

__all__ = ["EventArchive", "read_archive"]

SUFFIX = ".jsonl.gz"


def _key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def day_of(stream_id: str) -> str:
    """The UTC day (YYYY-MM-DD) an entry was appended on: its file."""
    return datetime.fromtimestamp(_key(stream_id)[0] / 1000, UTC).strftime("%Y-%m-%d")


class EventArchive:
    """Appends stream entries to the day files of one folder."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def append(self, rows: Iterable[tuple[bytes | str, dict[bytes, bytes]]]) -> int:
        """Write (stream id, fields) rows as XRANGE gives them, in stream order, to their day files;
        returns how many. Each file is flushed to disk (fsync) before this returns."""
        by_day: dict[str, list[bytes]] = {}
        count = 0
        for stream_id, fields in rows:
            sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
            line = {
                "sid": sid,
                "id": fields[b"id"].decode(),
                "op": fields.get(b"op", b"new").decode(),
                "e": orjson.Fragment(fields[b"e"]),
                "sup": fields.get(b"sup", b"").decode(),
            }
            by_day.setdefault(day_of(sid), []).append(orjson.dumps(line) + b"\n")
            count += 1
        if not by_day:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        for day, lines in by_day.items():
            path = self.folder / f"{day}{SUFFIX}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as raw:
                with gzip.GzipFile(fileobj=raw, mode="ab", compresslevel=6) as out:
                    out.write(b"".join(lines))
                raw.flush()
                os.fsync(raw.fileno())
        return count

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{SUFFIX}"))


def read_archive(folder: str | os.PathLike[str], *, after: str = "0-0", before: str | None = None) -> Iterator[StreamEntry]:
    """Every archived entry with ``after`` < stream id < ``before`` (no bound: all), oldest first, each
    once. An unreadable line (a file cut short by a crash) ends that file's part and is logged; the files after it are still read."""
    low, high = _key(after), _key(before) if before else None
    last = low
    for path in sorted(Path(folder).glob(f"*{SUFFIX}")):
        if after != "0-0" and path.name[:10] < day_of(after):
            continue  # a day wholly before what is asked
        if high is not None and path.name[:10] > day_of(before or "0-0"):
            break
        try:
            with gzip.open(path, "rb") as lines:
                for line in lines:
                    row = orjson.loads(line)
                    key = _key(row["sid"])
                    if key <= last:
                        continue
                    if high is not None and key >= high:
                        return
                    last = key
                    yield StreamEntry(stream_id=row["sid"], id=row["id"], op=row["op"], event=row["e"],
                                      supersedes=tuple(row["sup"].split()))
        except (OSError, EOFError, ValueError, KeyError) as exc:  # a member cut short by a crash
            log.error("archive %s unreadable after entry %s (%s); the files after it are still read",
                      path.name, f"{last[0]}-{last[1]}", type(exc).__name__)
