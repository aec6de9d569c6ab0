"""Agency keys (owned by domain/agencies/store.py and tokens.py)::

    wf:agencies                     set     every agency's code
    wf:agency:<code>                hash    one agency: name, kind, contact, tlp (its ceiling), sharing (its
                                            default rule), created, by
    wf:agency:<code>:tokens         hash    token id -> JSON {digest, label, by, created, revoked, used}
    wf:agency:<code>:sources        hash    source id -> sharing rule: the agency's default per source
                                            (domain/agencies/sources.py)
    wf:agency-token:<sha256>        string  "<code> <token id>": a push token's digest (the token itself
                                            is shown once and never stored)
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
