"""Agencies: the partner organisations a fusion center brings together.

    store.py     an agency's record: code, name, kind, contact, TLP ceiling, default sharing rule
    sharing.py   sharing rules (all, own, agencies:CODE,...): who beyond TLP may see an owner's items
    tokens.py    push tokens for POST /api/ingest: made, listed, revoked; kept only as digests
    pushes.py    what partners pushed: each push's record, per-source counts and health, the push rate limit
"""

__all__ = ["keys", "pushes", "sharing", "store", "tokens"]
