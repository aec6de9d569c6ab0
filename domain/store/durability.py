"""Acknowledged means replicated: a write the stack acknowledges survives the loss of the primary.

Redis replicates asynchronously, so a primary killed a moment after answering can take its last
writes with it, and the sentinels then promote a replica that never saw them. With
``wait_replicas=N`` in the store's URL (``watchfloor up --ha`` sets 1), every critical write is
followed, in the same round trip, by ``WAIT N wait_ms``: the writer is told "stored" only once N
replicas hold it (and, with ``appendfsync always`` on the primary, its disk). When fewer confirm
in time the write is *not* acknowledged: :class:`NotReplicated` is raised and the caller's work runs
again (a feed poll fails and is polled again; ingest is idempotent by fingerprint, so a report
that did reach the store is "already seen" the second time, never appended twice).

Before the WAIT a marker key is written: Redis's WAIT covers the replication offset of this
connection's last write, and a retry that finds its reports already stored writes nothing, so
without the marker it would confirm nothing. Replication is in order: once the marker is on a
replica, everything written before it is too.

The critical writes today: appending reports to ``wf:events`` (:meth:`EventStore.append`, the one
path into the stream: every feed poll in ``workers/jobs.py``). Not waited for: RQ's own bookkeeping (a job
result lost in a failover means the job runs again), the fuser's derived state (rebuilt from
``wf:events`` when it reconnects), screens' reads.
"""

from __future__ import annotations

from typing import Any

import redis


class DurabilityKeys:
    """The marker every confirmed write sets before its WAIT (owned by :func:`confirm_in`)."""

    MARK = "wf:store:replicated"  # string: epoch ms of the last write confirmed on the replicas


class NotReplicated(redis.RedisError):
    """Fewer replicas than asked confirmed a write in time: it is not acknowledged."""


def attach(client: Any, replicas: int, wait_ms: int) -> Any:
    """Mark ``client`` so its critical writes wait for ``replicas`` replicas (0: do not wait)."""
    client.wf_durability = (int(replicas), int(wait_ms))
    return client


def wanted(client: Any) -> tuple[int, int]:
    """(replicas, ms) asked for on ``client`` (a client made by ``connection.connect``), else (0, 0)."""
    return getattr(client, "wf_durability", (0, 0))


def confirm_in(pipe: Any, client: Any) -> int:
    """Queue the marker and ``WAIT`` at the end of ``pipe`` when ``client`` asks for replicas;
    returns how many replies they add (0 or 2), for :func:`check`."""
    replicas, wait_ms = wanted(client)
    if replicas <= 0:
        return 0
    pipe.execute_command("SET", DurabilityKeys.MARK, "1")
    pipe.execute_command("WAIT", replicas, wait_ms)
    return 2


def check(replies: list[Any], added: int, client: Any) -> list[Any]:
    """``replies`` without the ones :func:`confirm_in` added; raise :class:`NotReplicated` when the
    WAIT counted fewer replicas than asked."""
    if not added:
        return replies
    replicas, wait_ms = wanted(client)
    got = int(replies[-1])
    if got < replicas:
        raise NotReplicated(f"the write reached {got} of {replicas} replica(s) within {wait_ms} ms; not acknowledged")
    return replies[:-added]


def confirm(client: Any) -> None:
    """Confirm everything the primary held before this call (one round trip) when replicas are asked for."""
    if wanted(client)[0] <= 0:
        return
    pipe = client.pipeline(transaction=False)
    added = confirm_in(pipe, client)
    check(pipe.execute(), added, client)
