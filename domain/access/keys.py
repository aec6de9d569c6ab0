"""Access control and audit keys (owned by domain/access/accounts.py, sessions.py, audit.py)::

    wf:users                   set     every account name (people and display screens)
    wf:user:<name>             hash    account (see domain.access.accounts.User): role, argon2 hash, flags
    wf:user:<name>:sessions    set     digests of the account's live sessions (revoked together)
    wf:session:<digest>        hash    one server-side session; digest = sha256 of the cookie value
    wf:display-token:<digest>  string  display screen token digest -> account name
    wf:audit                   stream  append-only audit trail; trimmed by age (MINID) only, never MAXLEN
    wf:audit:trimmed           string  set for a day after the retention trim ran (one trim a day)
    wf:audit:throttle:<src>    string  unauthenticated refusals from one address this minute

Sign-in throttling keeps its own keys next to its code (domain/access/throttle.py).
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["AccountKeys", "AuditKeys"]


class AccountKeys:
    """Accounts, their sessions and display tokens (accounts.AccountStore, sessions.SessionStore)."""

    USERS = f"{PREFIX}:users"

    @staticmethod
    def user(name: str) -> str:
        return f"{PREFIX}:user:{name}"

    @staticmethod
    def user_sessions(name: str) -> str:
        return f"{PREFIX}:user:{name}:sessions"

    @staticmethod
    def session(digest: str) -> str:
        return f"{PREFIX}:session:{digest}"

    @staticmethod
    def display_token(digest: str) -> str:
        return f"{PREFIX}:display-token:{digest}"


class AuditKeys:
    """The audit trail (audit.audit and its readers)."""

    AUDIT = f"{PREFIX}:audit"
    AUDIT_TRIMMED = f"{PREFIX}:audit:trimmed"

    @staticmethod
    def audit_throttle(source: str, minute: int) -> str:
        return f"{PREFIX}:audit:throttle:{source}:{minute}"
