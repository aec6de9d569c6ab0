"""Suspicious-activity reports on the desk: the officer's report form, the vetting queue and a
report's detail with its entities (``/reports``), the queue's line on the desk and the wall, and the
map's layer of vetted reports."""

__all__ = ["entity_view", "map_layer", "officer_form", "page", "plain", "queue_line", "vetting_view"]
