"""The web app only: ``create_app(config)`` builds the Dash app on FastAPI explicitly (no import side
effects). Pages, panels, the access guard, the sign-in pages, the operator API and the push stream."""

from dashboard.app import create_app

__all__ = ["create_app"]
