"""Which major-event workspaces are live: the configured ones, plus the exercise scenario's event
when the exercise runs. Shared by the screens, the alert rules and the feed workers (which must
not import the web app to know them)."""

from __future__ import annotations

from functools import lru_cache

from domain.config.loader import Config
from domain.config.scenario import load_scenario
from layers.zones import Venue, Workspace


def workspaces_for(config: Config) -> list[Workspace]:
    """Configured workspaces, plus the exercise scenario's event when the exercise runs."""
    spaces = list(config.workspaces)
    if config.exercise:
        scenario_space = _scenario_workspace(str(config.scenario))
        if scenario_space is not None:
            spaces.insert(0, scenario_space)
    return spaces


@lru_cache(maxsize=8)
def _scenario_workspace(name: str) -> Workspace | None:
    """The scenario's major event as a workspace, read once per process (every feed poll asks for
    the workspaces; a changed scenario file takes effect at the next start)."""
    try:
        scenario = load_scenario(name)
    except Exception:  # a broken scenario is reported by `up`; the screens still draw
        return None
    event = scenario.event or {}
    if not (event.get("venues") or len(event.get("route", [])) > 1):
        return None
    return Workspace(
        id=f"exercise-{scenario.name}",
        name=event.get("name") or scenario.name,
        venues=tuple(Venue(v["name"], v["lat"], v["lon"], v["radius_km"]) for v in event.get("venues", [])),
        route=tuple((p[0], p[1]) for p in event.get("route", [])),
        center=scenario.center,
        zoom=float(scenario.zoom),
        exercise=True,
    )
