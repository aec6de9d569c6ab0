"""Operators' work on the picture: annotations, alerts, alert rules, outbound copies, criminal
intelligence records (28 CFR Part 23)."""

__all__ = ['alerts', 'annotations', 'criminal_intel', 'keys', 'outbound', 'rules']
