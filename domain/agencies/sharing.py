"""Sharing rules: beyond TLP, the owner of an item decides which agencies see it.

A rule is one of three, written as it is stored and typed::

    all                  every partner agency (what TLP allows)
    own                  the owner's agency only
    agencies:FD,TRANSIT  the owner's agency and the ones listed

An item without an owner (a public feed nobody claimed) is shared with all. A reader sees an item
only when TLP *and* the rule allow it; :func:`allows` is the rule's half of that check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import Invalid

__all__ = ["ALL", "OWN", "Rule", "SharingError", "parse_rule"]

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")


class SharingError(Invalid):
    """Not a sharing rule; the message shows the three forms."""


@dataclass(frozen=True)
class Rule:
    scope: str  # "all" | "own" | "agencies"
    agencies: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.scope == "agencies":
            return "agencies:" + ",".join(sorted(self.agencies))
        return self.scope

    def allows(self, owner: str | None, reader: str | None) -> bool:
        """True when a reader of agency ``reader`` may see an item ``owner`` marked with this rule."""
        if not owner or self.scope == "all":
            return True
        if reader is None:
            return False
        if reader == owner:
            return True
        return self.scope == "agencies" and reader in self.agencies

    def describe(self) -> str:
        if self.scope == "all":
            return "all partners"
        if self.scope == "own":
            return "own agency only"
        return "own agency and " + ", ".join(sorted(self.agencies))


ALL = Rule("all")
OWN = Rule("own")


def parse_rule(text: str | Rule | None, *, field: str = "sharing") -> Rule:
    """A :class:`Rule` from ``all``, ``own`` or ``agencies:CODE,CODE``; SharingError naming ``field``."""
    if isinstance(text, Rule):
        return text
    value = (text or "all").strip()
    if value.lower() in ("all", "own"):
        return ALL if value.lower() == "all" else OWN
    if value.lower().startswith("agencies:"):
        codes = [c.strip().upper() for c in value.split(":", 1)[1].split(",") if c.strip()]
        bad = [c for c in codes if not _CODE.match(c)]
        if codes and not bad:
            return Rule("agencies", frozenset(codes))
        if bad:
            raise SharingError(f"{field}: {bad[0][:20]!r} is not an agency code (letters, digits and -, up to 16)")
    raise SharingError(f"{field}: {value[:40]!r} is not a sharing rule; use all, own or agencies:CODE,CODE")
