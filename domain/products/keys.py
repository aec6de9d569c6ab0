"""Product keys (owned by domain/products/exports.py)::

    wf:products:log    stream  one entry per product handed on: what (format, count, marking, scope),
                               by, to, when, channel (never trimmed by count: the dissemination log
                               28 CFR Part 23 asks for)
    wf:share:<sha256>  string  one share link (JSON): kind, target, ceiling, by, to, created, expires, revoked
                               (EX: the link's life; the token itself is never stored)
    wf:share-id:<id>   string  the digest of a link's token, by the link's short id (revoking, listing)
    wf:shares          zset    link id -> expiry epoch
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["ProductKeys"]


class ProductKeys:
    LOG = f"{PREFIX}:products:log"
    SHARES = f"{PREFIX}:shares"

    @staticmethod
    def share(token_digest: str) -> str:
        return f"{PREFIX}:share:{token_digest}"

    @staticmethod
    def share_id(share_id: str) -> str:
        return f"{PREFIX}:share-id:{share_id}"
