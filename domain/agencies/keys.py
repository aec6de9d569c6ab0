"""Agency keys (owned by domain/agencies/store.py and tokens.py)::

    wf:agencies                     set     every agency's code
    wf:agency:<code>                hash    one agency: name, kind, contact, tlp (its ceiling), sharing (its
                                            default rule), created, by
    wf:agency:<code>:tokens         hash    token id -> JSON {digest, label, by, created, revoked, used}
    wf:agency:<code>:sources        hash    source id -> sharing rule: the agency's default per source
                                            (domain/agencies/sources.py)
    wf:agency-token:<sha256>        string  "<code> <token id>": a push token's digest (the token itself
                                            is shown once and never stored)

Push intake (owned by domain/agencies/pushes.py)::

    wf:agency:<code>:pushes         stream  the agency's recent pushes (capped: MAXLEN ~PUSH_LOG, no consumer
                                            reads it; what its page shows): time, source, token, status, accepted,
                                            unchanged, refused, reasons (JSON), bytes, format
    wf:agency:<code>:pushed         set     names of the sources it has pushed
    wf:agency:<code>:source:<name>  hash    per source: pushes, accepted, unchanged, refused, errors, bytes,
                                            last (epoch), last_error (epoch), interval (seconds, when given)
    wf:agency:<code>:push-window:<minute>  string  pushes counted in one minute (the rate limit; expires)
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["AgencyKeys"]


class AgencyKeys:
    AGENCIES = f"{PREFIX}:agencies"

    @staticmethod
    def agency(code: str) -> str:
        return f"{PREFIX}:agency:{code}"

    @staticmethod
    def tokens(code: str) -> str:
        return f"{PREFIX}:agency:{code}:tokens"

    @staticmethod
    def sources(code: str) -> str:
        return f"{PREFIX}:agency:{code}:sources"

    @staticmethod
    def token(digest: str) -> str:
        return f"{PREFIX}:agency-token:{digest}"

    @staticmethod
    def pushes(code: str) -> str:
        return f"{PREFIX}:agency:{code}:pushes"

    @staticmethod
    def pushed_sources(code: str) -> str:
        return f"{PREFIX}:agency:{code}:pushed"

    @staticmethod
    def source(code: str, name: str) -> str:
        return f"{PREFIX}:agency:{code}:source:{name}"

    @staticmethod
    def push_window(code: str, minute: int) -> str:
        return f"{PREFIX}:agency:{code}:push-window:{minute}"
