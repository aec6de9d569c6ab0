"""The offline basemap as plotly map layers: land, country borders and US state borders.

Only the map style ``white-bg`` renders without internet, so the basemap is drawn from GeoJSON built
at install time (``layers.basemap_build``, run by ``make install``) into ``assets/basemap``. Use::

    basemap = load_basemap(assets_dir)
    fig.update_layout(map={"style": "white-bg", "layers": map_layers(basemap, theme="dark")},
                      paper_bgcolor=BASEMAP_THEMES["dark"].sea)  # the sea is the map background

With ``url_base="/assets/basemap"`` the layers name the files instead of embedding them: the
browser fetches each file once from the Dash server (cached) and the figure stays small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

FILES = {"countries": "countries.geojson", "states": "states.geojson"}
MISSING_MESSAGE = "offline basemap not built: run `make install`"


class BasemapMissing(FileNotFoundError):
    """The built basemap files are absent or unreadable; str() is one actionable line."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(MISSING_MESSAGE)
        self.detail = detail


@dataclass(frozen=True)
class BasemapTheme:
    """Colours for one display: ``sea`` is the background under the map (set it as the map
    layer below everything: white-bg shows its own white otherwise)."""

    sea: str
    land: str
    country_line: str
    state_line: str
    country_width: float
    state_width: float


BASEMAP_THEMES: dict[str, BasemapTheme] = {
    # Wall: dark, low-contrast land so coloured incident markers carry the picture.
    "dark": BasemapTheme(
        sea="#0b1520",
        land="#1c2733",
        country_line="#4a5a6a",
        state_line="#35434f",
        country_width=0.8,
        state_width=0.5,
    ),
    # Tablet outdoors: light land on a pale blue sea, darker lines for sunlight.
    "light": BasemapTheme(
        sea="#d6e4ee",
        land="#f5f3ee",
        country_line="#7b8794",
        state_line="#a3aab3",
        country_width=0.9,
        state_width=0.6,
    ),
}

_cache: dict[Path, MappingProxyType] = {}
_lock = threading.Lock()


def load_basemap(assets_dir: str | Path) -> MappingProxyType:
    """The countries and states GeoJSON under ``assets_dir`` (the ``assets/basemap`` folder or
    ``assets``, which holds it), read once per process and returned as a read-only mapping
    ``{"countries": FeatureCollection, "states": FeatureCollection}``. Do not mutate the
    collections: every caller shares them.

    Raises :class:`BasemapMissing` when a file is absent or is not GeoJSON.
    """
    folder = Path(assets_dir)
    if not (folder / FILES["countries"]).exists() and (folder / "basemap" / FILES["countries"]).exists():
        folder = folder / "basemap"
    folder = folder.resolve()
    with _lock:
        cached = _cache.get(folder)
        if cached is not None:
            return cached
        data: dict[str, Any] = {}
        for key, name in FILES.items():
            path = folder / name
            try:
                collection = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise BasemapMissing(f"{path}: {exc}") from None
            if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
                raise BasemapMissing(f"{path}: not a GeoJSON FeatureCollection")
            data[key] = collection
        basemap = MappingProxyType(data)
        _cache[folder] = basemap
        return basemap


# white-bg paints white under everything: a world-covering polygon gives each theme its sea.
_SEA = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon",
        "coordinates": [[[-180, -85.06], [180, -85.06], [180, 85.06], [-180, 85.06], [-180, -85.06]]],
    }}],
}


def _layer(name: str, source: Any, kind: str, color: str, **more: Any) -> dict[str, Any]:
    """One plotly map layer below the traces (markers draw on top)."""
    return {"name": name, "sourcetype": "geojson", "source": source, "type": kind, "color": color, "opacity": 1,
            "below": "traces", **more}


def map_layers(
    basemap: Any,
    theme: str = "dark",
    *,
    url_base: str | None = None,
) -> list[dict[str, Any]]:
    """``layout.map.layers`` entries, bottom to top: sea, land (fill, outlined by country borders),
    US state borders, and with ``url_base`` a country border line layer with the theme's width.

    ``basemap`` is what :func:`load_basemap` returned; with ``url_base`` (e.g.
    ``"/assets/basemap"``) the layers reference the files by URL instead and ``basemap`` may be
    None. All layers sit below traces (``below="traces"``) so markers draw on top. Unknown themes
    raise ValueError. (The screens draw the world from the app's own map style, dashboard/tiles.py;
    these layers are for figures drawn without it.)
    """
    if theme not in BASEMAP_THEMES:
        raise ValueError(f"unknown basemap theme {theme!r}: use one of {', '.join(BASEMAP_THEMES)}")
    colours = BASEMAP_THEMES[theme]

    def source(key: str) -> Any:
        if url_base is not None:
            return f"{url_base.rstrip('/')}/{FILES[key]}"
        if basemap is None or key not in basemap:
            raise BasemapMissing(f"no {key} in basemap")
        return basemap[key]

    layers = [
        _layer("basemap-sea", _SEA, "fill", colours.sea),
        # Inline, the fill's 1 px outline draws the borders: a line layer would embed the 1 MB
        # countries file in the figure a second time.
        _layer("basemap-land", source("countries"), "fill", colours.land, fill={"outlinecolor": colours.country_line}),
        _layer("basemap-states", source("states"), "line", colours.state_line, line={"width": colours.state_width}),
    ]
    if url_base is not None:
        # By URL the browser fetches the file once, so a real line layer (with a width) is free.
        layers.append(_layer("basemap-countries", source("countries"), "line", colours.country_line,
                             line={"width": colours.country_width}))
    return layers
