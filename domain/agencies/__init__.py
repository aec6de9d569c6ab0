"""Agencies: the partner organisations a fusion center brings together.

    admin.py     what an administrator may do: the host center's admins everything, an agency's its own
    access.py    the one check: may_see(item, user) = TLP and the sharing rule; readers, redaction
    members.py   who belongs to which agency; what an agency administrator may manage
    store.py     an agency's record: code, name, kind, contact, TLP ceiling, default sharing rule
    sharing.py   sharing rules (all, own, agencies:CODE,...): who beyond TLP may see an owner's items
    sources.py   per-source sharing defaults; rule_for: the rule a new report carries (item > source > agency)
    tokens.py    push tokens for POST /api/ingest: made, listed, revoked; kept only as digests
    pushes.py    what partners pushed: each push's record, per-source counts and health, the push rate limit
"""

__all__ = ["access", "admin", "keys", "members", "pushes", "sharing", "sources", "store", "tokens"]
