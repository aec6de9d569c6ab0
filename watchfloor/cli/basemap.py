"""Street basemaps: ``basemap import``, ``basemap list``, ``basemap remove``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

from domain.config.loader import Config
from layers.streets import BUILT_IN, ImportRefused, regions
from layers.streets import install as install_region
from layers.streets import remove as remove_region
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand


def imported_folder(config: Config) -> Path:
    return Path(config.data_dir) / "basemaps"


def cmd_import(args: argparse.Namespace, config: Config) -> int:
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {line}", file=sys.stderr, flush=True)

    try:
        region = install_region(Path(args.file), imported_folder(config), name=args.name, progress=progress)
    except ImportRefused as exc:
        print(f"watchfloor: basemap import: refused: {exc} (the basemap in use is unchanged)", file=sys.stderr)
        return EXIT_BAD_INPUT
    west, south, east, north = region.bounds
    print(f"{region.name}: {region.size / 1e6:.1f} MB, zoom {region.minzoom}-{region.maxzoom}, "
          f"lon {west:.4f}..{east:.4f} lat {south:.4f}..{north:.4f}; screens show it within seconds")
    return 0


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout.buffer
    for folder, origin in ((imported_folder(config), "imported"), (BUILT_IN, "built-in")):
        for region in regions(folder):
            row = {k: v for k, v in region.as_dict().items() if k != "path"} | {"origin": origin}
            out.write(orjson.dumps(row) + b"\n")
    return 0


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    if remove_region(imported_folder(config), args.name):
        print(f"{args.name}: removed")
        return 0
    print(f"watchfloor: basemap remove: no imported basemap {args.name!r} (`watchfloor basemap list` names them; "
          "built-in ones go with `make clean`)", file=sys.stderr)
    return EXIT_BAD_INPUT


def register(add: AddCommand) -> None:
    p = add("basemap", lambda args, config: args.basemap_func(args, config), "street basemaps for the maps (offline)")
    sub = p.add_subparsers(dest="basemap_command", required=True, metavar="ACTION")
    q = sub.add_parser("import", help="install a region from an OpenStreetMap extract (.osm.pbf) or a tile package "
                                      "(.pmtiles, .mbtiles); built aside, swapped in when complete")
    q.add_argument("file", metavar="FILE")
    q.add_argument("--name", help="the region's name (default: the file's name)")
    q.set_defaults(basemap_func=cmd_import)
    q = sub.add_parser("list", help="installed street basemaps as JSON Lines")
    q.set_defaults(basemap_func=cmd_list)
    q = sub.add_parser("remove", help="remove an imported street basemap")
    q.add_argument("name")
    q.set_defaults(basemap_func=cmd_remove)
