"""Suspicious-activity reports on the desk: the officer's report form, the vetting queue and a
report's detail with its entities (``/reports``), and the queue's line on the desk and the wall."""

__all__ = ["entity_view", "officer_form", "page", "plain", "queue_line", "vetting_view"]
