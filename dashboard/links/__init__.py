"""The link-analysis page (``/links``): what it draws (view), how it looks (elements), a node's
details (detail) and the page with its callbacks (page)."""

from dashboard.links.page import links_layout, register_links

__all__ = ["detail", "elements", "links_layout", "page", "radial", "register_links", "view"]
