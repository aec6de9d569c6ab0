"""Server-side sessions in Redis: revocable, renewed at sign-in, idle and absolute limits.

The cookie holds a random 256-bit id; Redis holds only its SHA-256 digest (``wf:session:<digest>``),
so a copy of Redis does not hand out live cookies. A session is valid while all of these hold:

- its key exists (logout, disable and password change delete it; Redis expires it when idle);
- the account exists, is enabled and has the same ``generation`` as when the session began;
- a person's session has seen interaction within ``session_idle_minutes`` and is younger than
  ``session_max_hours``; a display screen's session is younger than ``display_session_days``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import Enum

import redis

from domain.access.accounts import AccountStore, Role, User, revoke_all, token_digest
from domain.access.keys import AccountKeys
from domain.config.loader import Config

TOUCH_EVERY = 5.0  # seconds: activity closer together than this does not write to Redis


class SessionKind(str, Enum):
    PERSON = "person"
    DISPLAY = "display"


@dataclass(frozen=True)
class SessionLimits:
    idle_seconds: float
    max_seconds: float
    display_max_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> SessionLimits:
        return cls(
            idle_seconds=float(config.session_idle_minutes) * 60,
            max_seconds=float(config.session_max_hours) * 3600,
            display_max_seconds=float(config.display_session_days) * 86400,
        )


@dataclass(frozen=True)
class Session:
    digest: str
    user: User
    kind: SessionKind
    created: float
    last_active: float
    source: str

    @property
    def role(self) -> Role:
        return self.user.role


class SessionStore:
    def __init__(self, client: redis.Redis, limits: SessionLimits) -> None:
        self.client = client
        self.limits = limits
        self.accounts = AccountStore(client)

    def _ttl(self, kind: SessionKind, created: float, now: float) -> int:
        if kind is SessionKind.DISPLAY:
            remaining = created + self.limits.display_max_seconds - now
        else:
            remaining = min(self.limits.idle_seconds, created + self.limits.max_seconds - now)
        return max(1, int(remaining + 0.999))

    def create(self, user: User, kind: SessionKind, source: str) -> tuple[str, Session]:
        """A brand-new session id (never one the browser offered: no fixation)."""
        sid = secrets.token_urlsafe(32)
        digest = token_digest(sid)
        now = time.time()
        self._prune(user.name)
        fields = {"user": user.name, "kind": kind.value, "gen": str(user.generation), "created": f"{now:.3f}",
                  "active": f"{now:.3f}", "source": source[:64]}
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(AccountKeys.session(digest), mapping=fields)
        pipe.expire(AccountKeys.session(digest), self._ttl(kind, now, now))
        pipe.sadd(AccountKeys.user_sessions(user.name), digest)
        pipe.execute()
        return sid, Session(digest, user, kind, now, now, source)

    def get(self, sid: str, *, active: bool = False, now: float | None = None) -> Session | None:
        """The live session for a cookie value, or None (and the dead session is removed).

        ``active``: this request is a person's interaction, so it restarts the idle clock."""
        if not sid or len(sid) > 128:
            return None
        now = time.time() if now is None else now
        digest = token_digest(sid)
        raw = self.client.hgetall(AccountKeys.session(digest))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            kind = SessionKind(data["kind"])
            created, last_active, generation = float(data["created"]), float(data["active"]), int(data["gen"])
            name = data["user"]
        except (KeyError, ValueError):
            self._drop(digest, data.get("user"))
            return None
        user = self.accounts.get(name)
        if user is None or user.disabled or user.generation != generation:
            self._drop(digest, name)
            return None
        if kind is SessionKind.DISPLAY:
            if not user.is_display or now - created > self.limits.display_max_seconds:
                self._drop(digest, name)
                return None
        elif now - created > self.limits.max_seconds or now - last_active > self.limits.idle_seconds:
            self._drop(digest, name)
            return None
        if active and kind is SessionKind.PERSON and now - last_active >= min(TOUCH_EVERY, self.limits.idle_seconds / 10):
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(AccountKeys.session(digest), "active", f"{now:.3f}")
            pipe.expire(AccountKeys.session(digest), self._ttl(kind, created, now))
            pipe.execute()
            last_active = now
        return Session(digest, user, kind, created, last_active, data.get("source", ""))

    def revoke(self, sid: str) -> str | None:
        """End the session behind a cookie value; the account name, or None if there was none."""
        if not sid or len(sid) > 128:
            return None
        digest = token_digest(sid)
        name = self.client.hget(AccountKeys.session(digest), "user")
        self._drop(digest, name.decode() if name else None)
        return name.decode() if name else None

    def revoke_user(self, name: str) -> int:
        """End every session of an account at once (disable, new password, new role)."""
        return revoke_all(self.client, name)

    def _prune(self, name: str) -> None:
        """Forget index entries of sessions Redis already expired."""
        digests = [d.decode() for d in self.client.smembers(AccountKeys.user_sessions(name))]
        if not digests:
            return
        pipe = self.client.pipeline(transaction=False)
        for digest in digests:
            pipe.exists(AccountKeys.session(digest))
        gone = [d for d, alive in zip(digests, pipe.execute(), strict=True) if not alive]
        if gone:
            self.client.srem(AccountKeys.user_sessions(name), *gone)

    def _drop(self, digest: str, name: str | None) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(AccountKeys.session(digest))
        if name:
            pipe.srem(AccountKeys.user_sessions(name), digest)
        pipe.execute()


__all__ = ["Session", "SessionKind", "SessionLimits", "SessionStore", "revoke_all"]
