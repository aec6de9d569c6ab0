"""Local accounts in Redis: roles, argon2 password hashes, lockout, display screens.

Exceptions::
    AccountError            anything the caller asked for that cannot be done; the message says why
    ├── BadName             not a valid account name
    ├── UnknownAccount      no such account
    ├── AccountExists       the name is taken
    └── WeakPassword        the password does not meet the policy

Roles are ordered: display < viewer < operator < supervisor < admin. A role grants everything the
roles below it grant. ``display`` is a wall screen: read-only, signs in with a token, never a password.

Every change that must end the account's sessions (disable, new password, new role) bumps
``generation``: a session carries the generation it was created under and dies when they differ,
and the account's live sessions are also deleted at once (domain.access.sessions).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from enum import Enum

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.access.audit import Outcome, audit
from domain.access.keys import AccountKeys
from domain.errors import WatchfloorError

LOCK_AFTER_FAILURES = 5
LOCKOUT_SECONDS = 900.0  # a lock ends by itself after this (setting lockout_minutes); an admin unlocks at once
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

# argon2id with the library's defaults (RFC 9106 low-memory profile: 64 MiB, t=3). At most a few
# hashes at once so a burst of sign-ins cannot exhaust memory.
_hasher = PasswordHasher()
_hashing = threading.BoundedSemaphore(4)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown names: same cost, no enumeration


class AccountError(WatchfloorError):
    """An account operation that cannot be done; the message is for the person who asked."""


class BadName(AccountError):
    pass


class UnknownAccount(AccountError):
    pass


class AccountExists(AccountError):
    pass


class WeakPassword(AccountError):
    pass


class Role(str, Enum):
    DISPLAY = "display"
    VIEWER = "viewer"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def grants(self, needed: Role | str) -> bool:
        """True when this role is ``needed`` or above it."""
        return self.rank >= Role(needed).rank

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise AccountError(f"{value!r} is not a role; roles: {', '.join(r.value for r in cls)}") from None


_RANK = {role: index for index, role in enumerate(Role)}


class LoginOutcome(str, Enum):
    OK = "ok"
    BAD_PASSWORD = "bad password"
    UNKNOWN = "unknown account"
    LOCKED = "account locked"
    DISABLED = "account disabled"
    NO_PASSWORD = "account has no password (display screen)"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool = False
    locked: bool = False
    failures: int = 0
    must_change_password: bool = False
    generation: int = 0
    created: float = 0.0
    password_changed: float = 0.0
    agency: str = ""  # the agency the person or screen belongs to ("": the host fusion center)

    @property
    def is_display(self) -> bool:
        return self.role is Role.DISPLAY

    @classmethod
    def from_redis(cls, name: str, raw: dict[bytes, bytes]) -> User:
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(
            name=name,
            role=Role(data.get("role", "viewer")),
            disabled=data.get("disabled") == "1",
            # A lock ends by itself: nobody can lock another person out for good.
            locked=data.get("locked") == "1" and float(data.get("locked_until") or 0) > time.time(),
            failures=int(data.get("failures") or 0),
            must_change_password=data.get("must_change") == "1",
            generation=int(data.get("gen") or 0),
            created=float(data.get("created") or 0),
            password_changed=float(data.get("pw_changed") or 0),
            agency=data.get("agency", ""),
        )


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    locked_now: bool = False  # this attempt was the one that locked the account

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadName(f"{str(name)[:64]!r} is not a valid account name: use 1-64 lower-case letters, digits, '.', '_' or '-'")
    return name


def check_password(password: str, name: str = "") -> None:
    """NIST 800-63B style: length, not the account name; no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    if name and name.lower() in password.lower():
        raise WeakPassword("the password must not contain the account name")


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    with _hashing:
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def token_digest(token: str) -> str:
    """Tokens (session ids, display tokens) are 256-bit random, so a plain SHA-256 is the right hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountStore:
    """Accounts in ``wf:user:<name>`` hashes; every change that ends sessions bumps ``gen``."""

    def __init__(self, client: redis.Redis, lockout_seconds: float = LOCKOUT_SECONDS) -> None:
        self.client = client
        self.lockout_seconds = lockout_seconds

    # -- reading -------------------------------------------------------------------------------
    def get(self, name: str) -> User | None:
        if not isinstance(name, str) or not _NAME.match(name):
            return None
        raw = self.client.hgetall(AccountKeys.user(name))
        return User.from_redis(name, raw) if raw else None

    def require(self, name: str) -> User:
        user = self.get(check_name(name))
        if user is None:
            raise UnknownAccount(f"no account named {name!r}; `watchfloor user list` shows them")
        return user

    def names(self) -> list[str]:
        return sorted(n.decode() for n in self.client.smembers(AccountKeys.USERS))

    def list(self) -> list[User]:
        return [u for u in (self.get(n) for n in self.names()) if u is not None]

    def has_admin(self) -> bool:
        return any(u.role is Role.ADMIN and not u.disabled for u in self.list())

    # -- changing ------------------------------------------------------------------------------
    def create(self, name: str, role: Role | str, password: str | None, *, must_change: bool = False) -> User:
        """A new account. ``password`` None only for display screens (they use a token)."""
        check_name(name)
        role = Role.parse(role) if not isinstance(role, Role) else role
        if password is None and role is not Role.DISPLAY:
            raise WeakPassword("a person's account needs a password")
        if password is not None:
            check_password(password, name)
        now = time.time()
        fields = {
            "role": role.value,
            "hash": hash_password(password) if password is not None else "",
            "disabled": "0",
            "locked": "0",
            "failures": "0",
            "must_change": "1" if must_change else "0",
            "gen": "0",
            "created": f"{now:.3f}",
            "pw_changed": f"{now:.3f}",
        }
        # HSETNX on the role first: two admins creating the same name at once cannot both succeed.
        if not self.client.hsetnx(AccountKeys.user(name), "role", role.value):
            raise AccountExists(f"an account named {name!r} already exists")
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(AccountKeys.user(name), mapping=fields)
        pipe.sadd(AccountKeys.USERS, name)
        pipe.execute()
        return self.require(name)

    def set_password(self, name: str, password: str, *, must_change: bool = False) -> User:
        user = self.require(name)
        if user.is_display:
            raise AccountError(f"{name!r} is a display screen; it signs in with a token (`watchfloor display add`)")
        check_password(password, name)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(AccountKeys.user(name), mapping={
            "hash": hash_password(password), "must_change": "1" if must_change else "0",
            "pw_changed": f"{time.time():.3f}",
        })
        pipe.hincrby(AccountKeys.user(name), "gen", 1)
        pipe.execute()
        revoke_all(self.client, name)
        return self.require(name)

    def set_disabled(self, name: str, disabled: bool) -> User:
        self.require(name)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(AccountKeys.user(name), "disabled", "1" if disabled else "0")
        pipe.hincrby(AccountKeys.user(name), "gen", 1)
        pipe.execute()
        revoke_all(self.client, name)
        return self.require(name)

    def set_role(self, name: str, role: Role | str) -> User:
        user = self.require(name)
        role = Role.parse(role) if not isinstance(role, Role) else role
        if user.is_display != (role is Role.DISPLAY):
            raise AccountError("a display screen stays a display screen, and a person cannot become one")
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(AccountKeys.user(name), "role", role.value)
        pipe.hincrby(AccountKeys.user(name), "gen", 1)
        pipe.execute()
        revoke_all(self.client, name)
        return self.require(name)

    def unlock(self, name: str) -> User:
        self.require(name)
        self.client.hset(AccountKeys.user(name), mapping={"locked": "0", "failures": "0", "locked_until": "0"})
        return self.require(name)

    # -- signing in ----------------------------------------------------------------------------
    def verify(self, name: str, password: str) -> LoginResult:
        """Check a password. Five failures in a row lock the account for ``lockout_seconds`` (or until
        an admin unlocks it); once a lock has ended, the count starts again.

        Costs one argon2 verification whatever the outcome, so timing does not tell an unknown
        name from a wrong password."""
        user = self.get(name) if _NAME.match(name or "") else None
        stored = self.client.hget(AccountKeys.user(name), "hash") if user else None
        stored_hash = stored.decode() if stored else ""
        matches = _verify(stored_hash or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
        if user is None:
            return LoginResult(LoginOutcome.UNKNOWN)
        if not stored_hash:
            return LoginResult(LoginOutcome.NO_PASSWORD, user)
        if user.disabled:
            return LoginResult(LoginOutcome.DISABLED, user)
        if user.locked:
            return LoginResult(LoginOutcome.LOCKED, user)
        if self.client.hget(AccountKeys.user(name), "locked") == b"1":  # a lock that has ended: count afresh
            self.client.hset(AccountKeys.user(name), mapping={"locked": "0", "failures": "0"})
        if not matches:
            failures = int(self.client.hincrby(AccountKeys.user(name), "failures", 1))
            if failures >= LOCK_AFTER_FAILURES:
                # HSETNX-like: only the attempt that flips the flag reports locking it.
                was = self.client.hget(AccountKeys.user(name), "locked")
                self.client.hset(AccountKeys.user(name), mapping={"locked": "1",
                                                           "locked_until": f"{time.time() + self.lockout_seconds:.3f}"})
                return LoginResult(LoginOutcome.BAD_PASSWORD, self.get(name), locked_now=was != b"1")
            return LoginResult(LoginOutcome.BAD_PASSWORD, self.get(name))
        if user.failures:
            self.client.hset(AccountKeys.user(name), "failures", "0")
        if _hasher.check_needs_rehash(stored_hash):
            self.client.hset(AccountKeys.user(name), "hash", hash_password(password))
        return LoginResult(LoginOutcome.OK, self.get(name))

    # -- display screens -----------------------------------------------------------------------
    def create_display(self, name: str) -> tuple[User, str]:
        """A display screen account and its token (shown once; only its digest is stored).

        Run again for an existing screen to issue a new token: the old one stops working."""
        user = self.get(check_name(name))
        if user is None:
            user = self.create(name, Role.DISPLAY, None)
        elif not user.is_display:
            raise AccountExists(f"{name!r} is a person's account, not a display screen")
        token = secrets.token_urlsafe(32)
        old = self.client.hget(AccountKeys.user(name), "token")
        pipe = self.client.pipeline(transaction=True)
        if old:
            pipe.delete(AccountKeys.display_token(old.decode()))
        pipe.set(AccountKeys.display_token(token_digest(token)), name)
        pipe.hset(AccountKeys.user(name), "token", token_digest(token))
        pipe.hincrby(AccountKeys.user(name), "gen", 1)
        pipe.execute()
        revoke_all(self.client, name)
        return self.require(name), token

    def display_for_token(self, token: str) -> User | None:
        """The enabled display screen a token belongs to, or None."""
        if not token or len(token) > 128:
            return None
        name = self.client.get(AccountKeys.display_token(token_digest(token)))
        if not name:
            return None
        user = self.get(name.decode())
        if user is None or not user.is_display or user.disabled:
            return None
        return user


def revoke_all(client: redis.Redis, name: str) -> int:
    """Delete every live session of ``name`` at once; the number deleted."""
    digests = [d.decode() for d in client.smembers(AccountKeys.user_sessions(name))]
    pipe = client.pipeline(transaction=True)
    for digest in digests:
        pipe.delete(AccountKeys.session(digest))
    pipe.delete(AccountKeys.user_sessions(name))
    results = pipe.execute()
    return sum(int(r) for r in results[:-1])


def ensure_first_admin(client: redis.Redis) -> str | None:
    """When no enabled admin exists, create ``admin`` with a random one-time password that must be
    changed at first sign-in, and return that password for printing once. Otherwise None.

    When an ``admin`` account exists but is disabled or not an admin, nothing is changed (an
    operator decided that); None is returned and the caller should say how to add one."""
    store = AccountStore(client)
    if store.has_admin():
        return None
    if store.get("admin") is not None:
        return None
    password = secrets.token_urlsafe(15)  # 20 characters, 120 bits
    try:
        store.create("admin", Role.ADMIN, password, must_change=True)
    except AccountExists:  # another process won the race
        return None

    audit("account.create", record="admin", outcome=Outcome.OK, reason="first run: one-time password",
          user="system", source="watchfloor up", client=client)
    return password
