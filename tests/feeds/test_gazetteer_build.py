"""The localities table built by ``make install`` from registry packages (feeds/gazetteer_build.py)."""

from __future__ import annotations

import subprocess
import sys

from feeds.gazetteer_build import main
from feeds.geocode import LOCALITIES_PATH, _key, distance_km, geocode, small_places


def _rows() -> dict[tuple[str, str, str], tuple[float, float]]:
    rows = {}
    for line in LOCALITIES_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        name, lat, lon, cc, admin1, _source = line.split("\t")
        rows[(name, cc, admin1)] = (float(lat), float(lon))
    return rows


def test_make_install_built_the_table_with_both_countries() -> None:
    assert LOCALITIES_PATH.is_file(), "make install builds build/gazetteer/localities.tsv"
    rows = _rows()
    assert sum(k[1] == "US" for k in rows) > 10_000
    assert sum(k[1] == "AU" for k in rows) > 10_000
    # Places USGS and the Queensland fire service name that GeoNames cities500 lacks, at the
    # place itself (true positions from the USGS and Geoscience Australia gazetteers).
    assert distance_km(*rows[("Cantwell", "US", "AK")], 63.3914, -148.9506) < 5
    assert distance_km(*rows[("Iveragh", "AU", "04")], -24.07, 151.39) < 10
    # Territories keep their own country code, as GeoNames does.
    assert any(k[1] == "PR" and k[2] == "" for k in rows)
    # Volcanoes (Smithsonian GVP), by the names USGS titles use, with the US state found for them.
    assert distance_km(*rows[("Redoubt Volcano", "US", "AK")], 60.485, -152.742) < 1
    assert ("Semisopochnoi Island", "US", "AK") in rows  # at 179.6 E: the state is found across 180 deg
    assert ("Raoul Island", "NZ", "") in rows


def test_the_table_only_adds_what_cities500_lacks() -> None:
    plain = small_places(with_localities=False)
    rows = _rows()
    assert ("Sydney", "AU", "02") not in rows and ("Ridgecrest", "US", "CA") not in rows
    for (name, cc, admin1), (lat, lon) in list(rows.items())[:: max(1, len(rows) // 2000)]:
        for c in plain.get(_key(name), ()):
            if c.cc == cc and (c.admin1 or "") == admin1:
                assert distance_km(lat, lon, c.lat, c.lon) > 25, (name, cc, admin1)


def test_a_usgs_title_naming_a_village_is_placed_by_its_offset() -> None:
    # "33 km SW of Cantwell, Alaska": before the table this fell back to the state's middle.
    place = geocode("M 1.9 - 33 km SW of Cantwell, Alaska")
    assert place is not None and place.precision == "exact"
    assert distance_km(place.lat, place.lon, 63.18, -149.43) < 10
    # a village alone is still never a match without its state
    assert geocode("Cantwell") is None
    volcano = geocode("M 2.1 - 12 km SW of Redoubt Volcano, Alaska")
    assert volcano is not None and volcano.precision == "exact" and volcano.name == "Redoubt Volcano"


def test_missing_inputs_end_with_one_line_and_status_2(tmp_path, capsys) -> None:
    assert main([str(tmp_path / "no-node-modules"), str(tmp_path / "out.tsv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "make install" in err and not (tmp_path / "out.tsv").exists()
    done = subprocess.run(
        [sys.executable, "-m", "feeds.gazetteer_build"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "usage:" in done.stderr and "Traceback" not in done.stderr
