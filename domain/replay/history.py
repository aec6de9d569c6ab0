"""The report stream as it was written: the archive of trimmed entries, then what ``wf:events`` still
holds, in stream order, read-only (XRANGE pages; nothing is acknowledged, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import redis

from domain.picture.keys import IncidentKeys
from domain.store.archive import read_archive
from domain.store.streams import EventKeys, StreamEntry, decode_entry

__all__ = ["entries", "override_rules", "stream_ms"]

PAGE = 1000


def stream_ms(stream_id: str) -> int:
    """The time (epoch milliseconds) a stream id was appended at."""
    return int(stream_id.partition("-")[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def entries(client: redis.Redis, archive: Path | None, *, until_ms: int | None = None) -> Iterator[StreamEntry]:
    """Every report entry appended up to ``until_ms`` (epoch ms, inclusive; None: all), oldest first,
    each once: the archive (``archive``: its folder) for what precedes the stream's first entry, then
    the stream itself, as the fuser reads them on a whole replay (workers/checkpoint.py)."""
    oldest = client.xrange(EventKeys.EVENTS, count=1)
    first = _text(oldest[0][0]) if oldest else None
    last = "0-0"
    if archive is not None and Path(archive).is_dir():
        for entry in read_archive(archive, before=first):
            if until_ms is not None and stream_ms(entry.stream_id) > until_ms:
                return
            last = entry.stream_id
            yield entry
    high = f"{until_ms}-18446744073709551615" if until_ms is not None else "+"
    start = "-" if last == "0-0" else "(" + last
    while True:
        rows = client.xrange(EventKeys.EVENTS, min=start, max=high, count=PAGE)
        for stream_id, fields in rows:
            yield decode_entry(stream_id, fields)
        if len(rows) < PAGE:
            return
        start = "(" + _text(rows[-1][0])


def override_rules(client: redis.Redis) -> list[dict[str, Any]]:
    """The operators' splits and merges the fuser resolved (each with ``at``, the position it was
    made at), in the order the fuser replays them; requests not yet resolved and refusals left out."""
    rules = []
    for index, raw in enumerate(client.lrange(IncidentKeys.FUSION_OVERRIDES, 0, -1)):
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(item, dict) and "at" in item and "refused" not in item:
            rules.append((int(item["at"]), index, item))
    rules.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in rules]
