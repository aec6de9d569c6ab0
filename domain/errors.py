"""Every error the domain raises, in one tree. Each carries ``status``, the HTTP status the API
answers with, and a message a duty officer can act on::

    WatchfloorError                 400: the request cannot be done; the message says why
    ├── ConfigError                 a setting or file is wrong: the message names the key and the fix
    │   └── RedisUnavailable        (domain.store.connection) no Redis to talk to; says what to run
    ├── AccountError                (domain.access.accounts) an account operation that cannot be done
    │   ├── BadName, UnknownAccount, AccountExists, WeakPassword
    ├── RecordError                 an operator's change to a record (annotation, alert) refused
    │   ├── NotFound                404: no such record
    │   │   ├── UnknownIncident     (domain.operations.annotations) no incident or event by that id
    │   │   └── UnknownAlert        (domain.operations.alerts)
    │   ├── Invalid                 422: a field is malformed, or a rule refused it; the message names it
    │   │   ├── InvalidAnnotation   (domain.operations.annotations)
    │   │   └── InvalidAlert        (domain.operations.alerts)
    │   ├── AboveMarking            403: the record (or the marking asked for) is above the user's TLP
    │   ├── NotSender               403: (domain.operations.alerts) only its sender or a supervisor may change it
    │   └── Conflict                409: someone saved first ("changed by X at T"); reload and retry
    └── ValueError too:
        ├── TLPError                (domain.access.tlp) not a TLP 2.0 label
        ├── RuleError               (domain.operations.rules) a malformed alert rule
        └── IntelError              (domain.operations.criminal_intel) a 28 CFR Part 23 rule refused it
"""

from __future__ import annotations

from typing import Any

__all__ = ["AboveMarking", "ConfigError", "Conflict", "Invalid", "NotFound", "RecordError", "WatchfloorError"]


class WatchfloorError(Exception):
    """Something the domain refuses to do; the message says why."""

    status = 400


class ConfigError(WatchfloorError):
    """Bad configuration. The message names the key and says how to fix it."""


class RecordError(WatchfloorError):
    """An operator's change to a record (annotation, alert) that cannot be done."""


class NotFound(RecordError):
    status = 404


class Invalid(RecordError):
    status = 422


class AboveMarking(RecordError):
    status = 403


class Conflict(RecordError):
    """The change was based on an older version: ``by`` saved at ``at`` (``current``: what is stored)."""

    status = 409

    def __init__(self, by: str, at: str, current: dict[str, Any] | None = None) -> None:
        super().__init__(f"changed by {by} at {at}")
        self.by, self.at, self.current = by, at, current
