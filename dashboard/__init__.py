"""The Dash app: ``create_app(config)`` builds it explicitly (no import side effects)."""

from dashboard.app import create_app

__all__ = ["create_app"]
