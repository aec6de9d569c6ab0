"""Replay (after-action review): the picture as it was at any instant of a window, rebuilt read-only
from the report stream and its archive by the same fusion (``picture``, ``fusion``, ``history``), with
the alerts, annotations and threat levels of that instant (``operations``), one reader's frame
(``frames``) and the window told in order for a debrief (``timeline``)."""

__all__ = ['frames', 'fusion', 'history', 'operations', 'picture', 'timeline']
