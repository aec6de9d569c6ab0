"""The Dash app: ``create_app(config)`` builds it explicitly (no import side effects).

Imported lazily: the feed workers use domain.operations.rules, domain.operations.criminal_intel and friends, and
must not load Dash and plotly for that."""

# No "from __future__ import annotations" here: it would bind the name domain.operations.annotations and
# shadow the submodule in "from dashboard import annotations".
from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from dashboard.app import create_app

        return create_app
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
