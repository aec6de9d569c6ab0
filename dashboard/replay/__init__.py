"""The replay page ``/replay`` (page: layout and callbacks) and what one frame draws as patches and
panels (view); the replay itself is domain/replay/."""

from dashboard.replay.page import register_replay

__all__ = ["page", "register_replay", "view"]
