"""Bounded for years: the report stream trimmed past its retention (archived to disk first) and
incidents aged out of the live picture. The active fuser runs :meth:`Retention.run` right after it
writes its checkpoint (workers/checkpoint.py), every ``checkpoint_seconds`` at most.

Trimming ``wf:events`` (``events_retention_days``):

* only entries older than the retention **and** already in the fuser's checkpoint **and** read by
  every consumer group (delivered and acknowledged): nothing unread is ever trimmed;
* each page of entries is first written to ``<data_dir>/archive/events/YYYY-MM-DD.jsonl.gz`` and
  fsynced (domain/store/archive.py), then recorded (``wf:events:archived`` ``through``), then trimmed
  with ``XTRIM MINID`` (``trimmed_before``). A crash in between archives a page twice; the reader
  skips the repeat. No archive folder, no trimming;
* at most ``budget`` entries per run, so the first run after years of history does not stall the fuser.

Ageing incidents (``incident_max_age_days``): an incident with no report or override for that long
(``wf:incident-updated``, stream time) that the fuser no longer holds in its window moves, in one
fenced transaction, from ``wf:incidents`` (and its time and place indexes) to ``wf:incidents:aged``,
with a ``remove`` change (``aged`` = 1) so every screen drops it. Lookups by id (the drawer, the API,
the CLI) still find it there. The per-tick work of screens reads ``wf:incidents`` or its indexes, so
it no longer grows with the years.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from domain.picture.keys import IncidentKeys
from domain.store.archive import EventArchive
from domain.store.streams import EventKeys
from workers.incident_rows import CHANGES_KEEP_MS, _sid_key, _text

log = logging.getLogger(__name__)

__all__ = ["Retention"]

PAGE = 5000
DAY_MS = 86_400_000


def _after(stream_id: str) -> tuple[int, int]:
    """The smallest id after ``stream_id``: trimming below it keeps ``stream_id``'s successors."""
    ms, seq = _sid_key(stream_id)
    return ms, seq + 1


@dataclass
class Retention:
    """How long reports and incidents stay, where trimmed reports go; ``clock`` gives epoch seconds."""

    events_ms: int = 0  # 0 keeps the stream whole
    incident_age_ms: int = 0  # 0: incidents never age out
    archive: Path | None = None  # no folder: nothing is trimmed (never trim what is not on disk)
    clock: Callable[[], float] = time.time
    budget: int = 50_000  # entries archived, and incidents aged, per run

    @classmethod
    def from_config(cls, config: Any) -> Retention:
        return cls(events_ms=int(float(config.events_retention_days) * DAY_MS),
                   incident_age_ms=int(float(config.incident_max_age_days) * DAY_MS),
                   archive=config.data_path / "archive" / "events")

    def run(self, fuser: Any) -> dict[str, int]:
        """Age what is due and trim what may go; returns how many of each (logged when any)."""
        done = {"aged": self.age(fuser), "archived": self.trim(fuser)}
        if any(done.values()):
            log.info("retention: %d incident(s) aged out of the live set, %d report(s) archived and trimmed",
                     done["aged"], done["archived"], extra=done)
        return done

    # -- the report stream ------------------------------------------------------------------------
    def floor(self, client: redis.Redis, checkpointed: str) -> tuple[int, int]:
        """Entries with a smaller id may be trimmed: past the retention, in the checkpoint, read by every group."""
        bounds = [(int(self.clock() * 1000) - self.events_ms, 0), _after(checkpointed)]
        try:
            groups = client.xinfo_groups(EventKeys.EVENTS)
        except redis.ResponseError:  # no stream yet
            return (0, 0)
        for group in groups:
            bounds.append(_after(_text(group.get("last-delivered-id")) or "0-0"))
            if group.get("pending"):
                oldest = client.xpending(EventKeys.EVENTS, _text(group.get("name"))).get("min")
                if oldest:
                    bounds.append(_sid_key(_text(oldest)))
        return min(bounds)

    def trim(self, fuser: Any) -> int:
        if not self.events_ms or self.archive is None:
            return 0
        client = fuser.client
        ms, seq = self.floor(client, fuser.checkpointed)
        if ms <= 0:
            return 0
        below = f"{ms}-{seq}"
        archive, done = EventArchive(self.archive), 0
        while done < self.budget:
            rows = client.xrange(EventKeys.EVENTS, min="-", max="(" + below, count=PAGE)
            if not rows:
                break
            archive.append(rows)  # on disk (fsynced) before anything leaves the stream
            last = _text(rows[-1][0])
            client.hset(EventKeys.ARCHIVED, mapping={"through": last, "folder": str(self.archive),
                                                     "at": f"{self.clock():.3f}"})
            cut = "{}-{}".format(*_after(last))
            client.xtrim(EventKeys.EVENTS, minid=cut, approximate=False)
            client.hset(EventKeys.ARCHIVED, "trimmed_before", cut)
            done += len(rows)
            fuser._keep_lead()
        return done

    # -- incidents --------------------------------------------------------------------------------
    def age(self, fuser: Any) -> int:
        if not self.incident_age_ms:
            return 0
        client = fuser.client
        cutoff = int(self.clock() * 1000) - self.incident_age_ms
        due = [_text(i) for i in client.zrangebyscore(IncidentKeys.INCIDENT_UPDATED, "-inf", cutoff,
                                                       start=0, num=self.budget)]
        due = [i for i in due if i not in fuser.correlator.incidents]  # still in the window: new reports may join
        for start in range(0, len(due), 1000):
            chunk = due[start : start + 1000]
            stored = dict(zip(chunk, client.hmget(IncidentKeys.INCIDENTS, chunk), strict=True))

            def fill(pipe: Any, chunk: list[str] = chunk, stored: dict[str, Any] = stored) -> None:
                moving = {i: raw for i, raw in stored.items() if raw}
                if moving:
                    pipe.hset(IncidentKeys.INCIDENTS_AGED, mapping=moving)
                pipe.hdel(IncidentKeys.INCIDENTS, *chunk)
                for key in (IncidentKeys.INCIDENT_TIME, IncidentKeys.INCIDENT_GEO, IncidentKeys.INCIDENT_UPDATED):
                    pipe.zrem(key, *chunk)
                minid = f"{max(0, int(time.time() * 1000) - CHANGES_KEEP_MS)}-0"
                for i in moving:
                    pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": i, "op": "remove", "into": "", "aged": "1"},
                              minid=minid, approximate=True)

            fuser._fenced(fill)
            for i in chunk:
                fuser._digests.pop(i, None)
        return len(due)
