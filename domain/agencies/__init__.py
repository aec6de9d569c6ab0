"""Agencies: the partner organisations a fusion center brings together.

    store.py     an agency's record: code, name, kind, contact, TLP ceiling, default sharing rule
    sharing.py   sharing rules (all, own, agencies:CODE,...): who beyond TLP may see an owner's items
    sources.py   per-source sharing defaults; rule_for: the rule a new report carries (item > source > agency)
    tokens.py    push tokens for POST /api/ingest: made, listed, revoked; kept only as digests
"""

__all__ = ["keys", "sharing", "sources", "store", "tokens"]
