"""Redis Sentinel: one URL names the sentinels and the service, every client follows a failover.

The form (``REDIS_URL`` or ``watchfloor.redis_url``)::

    redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[?db=0&sentinel_password=...]

``USER:PASSWORD`` are the data nodes' credentials (the primary and its replicas); the sentinels are
asked with ``sentinel_password`` (and ``sentinel_user``) when given, else with the same password (the
embedded set, ``watchfloor up --ha``, uses one password for all). ``rediss+sentinel://`` speaks TLS to
the data nodes. Every URL form may also carry the durability of acknowledged writes,
``wait_replicas=N&wait_ms=MS`` (see :mod:`domain.store.durability`).

Clients ask the sentinels for the primary on every new connection; a connection to a primary that
was demoted (``READONLY``) or died is dropped and the command is retried with a short back-off, so a
failover shows as a few seconds of errors (the screens say DEGRADED), never a crash loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

SCHEMES = ("redis+sentinel", "rediss+sentinel")
EXAMPLE = "redis+sentinel://:PASSWORD@127.0.0.1:26379,127.0.0.1:26380/watchfloor?db=0"
DURABILITY_PARAMS = ("wait_replicas", "wait_ms")
_SERVICE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SENTINEL_PARAMS = {"db", "sentinel_password", "sentinel_user", *DURABILITY_PARAMS}
# A failover takes the sentinels' down-after time plus an election (a few seconds): commands are
# retried over about that long, then fail (the caller says DEGRADED and asks again later).
RETRIES = 6
RETRY_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, TimeoutError, ConnectionError)


class SentinelUrlError(ValueError):
    """A malformed ``redis+sentinel://`` URL; the message says what is wrong and shows the form."""


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False


def is_sentinel(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def _bad(why: str) -> SentinelUrlError:
    return SentinelUrlError(f"{why} (form: {EXAMPLE})")


def parse(url: str) -> SentinelTarget:
    """The sentinels, service and credentials a ``redis+sentinel://`` URL names, or one clear error."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise _bad(f"the scheme must be {' or '.join(s + '://' for s in SCHEMES)}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise _bad("no sentinel HOST:PORT")
    sentinels = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(f"sentinel {item[:60]!r} is not HOST:PORT")
        sentinels.append((host, int(port)))
    service = unquote(parts.path.strip("/"))
    if not _SERVICE.match(service):
        raise _bad(f"the service name {service[:40]!r} must be 1-64 letters, digits, '.', '_' or '-'")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _SENTINEL_PARAMS)
    if unknown:
        raise _bad(f"unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(_SENTINEL_PARAMS))}")
    db = query.get("db", ["0"])[-1]
    if not db.isdigit() or int(db) > 15:
        raise _bad(f"db={db[:10]!r} must be a number from 0 to 15")
    username, _, password = userinfo.partition(":") if ":" in userinfo else ("", "", userinfo)

    def one(name: str) -> str | None:
        return query[name][-1] if query.get(name, [""])[-1] else None  # parse_qs has decoded it

    return SentinelTarget(tuple(sentinels), service, int(db), unquote(username) or None, unquote(password) or None,
                          one("sentinel_user"), one("sentinel_password") or unquote(password) or None,
                          parts.scheme.startswith("rediss"))


def durability_of(url: str) -> tuple[str, int, int]:
    """``url`` without ``wait_replicas``/``wait_ms``, and their values (0, 0 when absent)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    values = []
    for name, default in (("wait_replicas", "0"), ("wait_ms", "1000")):
        raw = query.pop(name, [default])[-1]
        if not raw.isdigit() or int(raw) > (5 if name == "wait_replicas" else 60_000):
            raise SentinelUrlError(f"{name}={raw[:10]!r} must be a number ({'0-5 replicas' if name == 'wait_replicas' else '0-60000 ms'})"
                                   f" (example: ...?wait_replicas=1&wait_ms=1000)")
        values.append(int(raw))
    rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    return rest, values[0], values[1] if values[0] else 0


def retry_policy(retries: int = RETRIES) -> Retry:
    """Up to :data:`RETRIES` retries, 0.1 s doubling to 2 s (about 6 s in all): long enough for a
    failover with short down-after times, short enough for a screen's poll to say DEGRADED."""
    return Retry(ExponentialBackoff(cap=2.0, base=0.1), retries, supported_errors=RETRY_ERRORS)


def _following(base: type) -> type:
    """``base`` (redis-py's SentinelManagedConnection, sync or asyncio) asking the sentinels for the
    primary on every reconnection. redis-py 8.1 reconnects a dropped connection through
    ``connect_check_health``, which dials the address the connection last had and skips the
    sentinels (redis/redis-py#3874, open): after a failover a writer kept dialling the dead
    primary, then the same address once it was back as a replica (READONLY), for ten seconds."""

    if base.__module__.startswith("redis.asyncio"):
        class AsyncFollowing(base):  # type: ignore[misc, valid-type]
            async def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
                if not self.is_connected and self.connection_pool.is_master:
                    self.host, self.port = await self.connection_pool.get_master_address()
                await super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)

        return AsyncFollowing

    class Following(base):  # type: ignore[misc, valid-type]
        def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
            if self._sock is None and self.connection_pool.is_master:
                self.host, self.port = self.connection_pool.get_master_address()
            super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)

    return Following


def _sentinel_kwargs(target: SentinelTarget, timeout: float) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"socket_connect_timeout": min(timeout, 1.0), "socket_timeout": min(timeout, 1.0)}
    if target.sentinel_password:
        kwargs["password"] = target.sentinel_password
    if target.sentinel_username:
        kwargs["username"] = target.sentinel_username
    return kwargs


def _node_kwargs(target: SentinelTarget, timeout: float, extra: dict[str, Any]) -> dict[str, Any]:
    return {"db": target.db, "username": target.username, "password": target.password, "ssl": target.tls,
            "socket_connect_timeout": timeout, "socket_timeout": timeout, **extra}


def connect(url: str, *, timeout: float = 5.0, **extra: Any) -> redis.Redis:
    """A client of the service's current primary (redis-py's ``Sentinel.master_for``)."""
    from redis.sentinel import Sentinel, SentinelManagedConnection, SentinelManagedSSLConnection

    target = parse(url)
    extra.setdefault("connection_class", _following(SentinelManagedSSLConnection if target.tls
                                                    else SentinelManagedConnection))
    manager = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, timeout))
    extra.setdefault("retry", retry_policy())
    return manager.master_for(target.service, check_connection=True, **_node_kwargs(target, timeout, extra))


def connect_async(url: str, *, timeout: float = 5.0, **extra: Any) -> Any:
    """The same, for asyncio (``redis.asyncio.sentinel``): the push stream's client."""
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection, SentinelManagedSSLConnection

    target = parse(url)
    extra.setdefault("connection_class", _following(SentinelManagedSSLConnection if target.tls
                                                    else SentinelManagedConnection))
    manager = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, timeout))
    extra.setdefault("retry", AsyncRetry(ExponentialBackoff(cap=2.0, base=0.1), RETRIES,
                                         supported_errors=RETRY_ERRORS))
    return manager.master_for(target.service, check_connection=True, **_node_kwargs(target, timeout, extra))


def redact(url: str) -> str:
    """``url`` safe to print: no password, in the user part or in the query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = parse_qs(parts.query, keep_blank_values=True)
    for name in query:
        if "password" in name:
            query[name] = ["***"]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, doseq=True, safe="*")))
