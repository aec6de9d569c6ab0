"""Documents and places: ``parse``, ``ingest``, ``places``, ``geocode``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

from domain.access.audit import audit
from domain.config.loader import Config
from domain.store.connection import connect, redis_url
from domain.store.streams import EventStore
from feeds.contract import FeedConfig, FeedError
from feeds.fetch import FetchLimits, fetch
from feeds.geocode import country_code, geocode
from feeds.model import Event
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client
from workers import places
from workers.ingest import is_live, parse_document, prepare
from workers.jobs import fetch_options


def _read_document(target: str, config: Config, allow_local: bool) -> tuple[bytes, str]:
    """Bytes of a local file, or of a URL fetched with the workers' limits and SSRF guard."""
    if target.startswith(("http://", "https://")):
        limits = FetchLimits(
            deadline=float(config.fetch_timeout), max_bytes=int(config.fetch_max_bytes), allow_local=allow_local
        )
        return fetch(target, limits=limits, **fetch_options(config, limits)).body, target
    if "://" in target:
        raise FeedError(f"{target[:80]}: only http(s) URLs and local files can be read")
    path = Path(target)
    if not path.is_file():
        raise FeedError(f"{target}: no such file")
    size = path.stat().st_size
    if size > int(config.fetch_max_bytes):
        raise FeedError(f"{target}: {size} bytes is over the fetch_max_bytes limit ({config.fetch_max_bytes})")
    return path.read_bytes(), path.name


def _cli_feed(name: str, fmt: str | None, exercise: bool = False) -> FeedConfig:
    return FeedConfig(id="cli", url="https://cli.invalid/", name=name, format=fmt or "auto", exercise=exercise)


def cmd_parse(args: argparse.Namespace, config: Config) -> int:
    """Print what the document says: exercise only when it says so (or --exercise); CAP Test, Draft
    and System messages are left out with a note on standard error, as the workers leave them out."""
    data, name = _read_document(args.target, config, args.allow_local)
    feed = _cli_feed(name, args.format, exercise=args.exercise)
    fetched_at = datetime.now(UTC)
    result = parse_document(data, feed, fetched_at)
    events = result.events if args.all else [e for e in result.events if is_live(e, feed)]
    skipped = Counter(_cap_status(e) for e in result.events if e not in events)
    if args.place:
        kept = {e.id for e in events}
        events = [e for e in prepare(result, feed, fetched_at).events if e.id in kept]
    out = sys.stdout.buffer
    for event in events:
        out.write(orjson.dumps(event.to_dict()) + b"\n")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for status, count in sorted(skipped.items()):
        noun = "alert" if count == 1 else "alerts"
        print(f"note: {count} {status} {noun} skipped (never shown live; --all prints them)", file=sys.stderr)
    if result.follow:
        print(f"note: the document points to {len(result.follow)} more document(s) (not fetched by parse)", file=sys.stderr)
    return 0


def _cap_status(event: Event) -> str:
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    return str(cap.get("status") or "other") if isinstance(cap, dict) else "other"


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    failed = 0
    with store_client(config) as client:
        store = EventStore(client)  # type: ignore[arg-type]
        for target in args.files:
            try:
                data, name = _read_document(target, config, allow_local=False)
                feed = _cli_feed(name, args.format, exercise=args.exercise)
                fetched_at = datetime.now(UTC)
                places.refresh(client, max_age=0)  # what the files before this one taught
                prepared = prepare(parse_document(data, feed, fetched_at), feed, fetched_at)
                counts = store.append(prepared.events)
                places.observe(client, [e for e in prepared.events if e.id in counts.changed])
            except FeedError as exc:
                print(f"{target}: refused: {exc}", file=sys.stderr)
                failed += 1
                continue
            held = f", {prepared.not_live} not live (test/draft)" if prepared.not_live else ""
            print(f"{target}: {counts.new} new, {counts.updated} updated, {counts.seen} already seen{held}")
    return EXIT_BAD_INPUT if failed else 0


def _load_learned_places(config: Config) -> None:
    """The places the feeds taught (workers/places.py), from the configured Redis or a running
    embedded one; none (and no Redis started) when neither answers."""

    url = redis_url(config)
    if url:
        client = connect(url, timeout=2.0)
        try:
            places.refresh(client, max_age=0)  # logs and goes on when Redis does not answer
        finally:
            client.close()


def cmd_places(args: argparse.Namespace, config: Config) -> int:
    """Places learned from the feeds: list them (JSON Lines), or forget one a feed taught wrong."""

    with store_client(config) as client:
        if args.places_command == "forget":
            actor = cli_actor()
            if not places.forget(client, args.key):  # type: ignore[arg-type]
                print(f"watchfloor: places forget: no learned place {args.key[:80]!r} "
                      "(see `watchfloor places list` for the keys)", file=sys.stderr)
                return EXIT_BAD_INPUT
            audit("place.forget", record=args.key[:200], user=actor, source="cli", client=client)  # type: ignore[arg-type]
            print(f"forgot {args.key}")
            return 0
        for place in places.listing(client):  # type: ignore[arg-type]
            sys.stdout.buffer.write(orjson.dumps(place) + b"\n")
    return 0


def cmd_geocode(args: argparse.Namespace, config: Config) -> int:
    """The place TEXT names, as one JSON object; exit 1 with "no place found" when it names none."""

    text = args.text.strip()
    if not text:
        print("watchfloor: geocode: TEXT is empty", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.country and country_code(args.country) is None:
        print(f"watchfloor: geocode: --country {args.country[:40]!r} is not a country name or ISO code",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.no_learned:
        _load_learned_places(config)
    place = geocode(text, country_hint=args.country)
    if place is None:
        print("no place found", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(orjson.dumps(asdict(place)) + b"\n")
    return 0



def register(add: AddCommand) -> None:
    p = add("parse", cmd_parse, "print the events of a document as JSON Lines")
    p.add_argument("target", metavar="FILE|URL")
    p.add_argument("--format", help="force a format (default: detect from the content)")
    p.add_argument("--place", action="store_true", help="also place unplaced events with the offline gazetteer")
    p.add_argument("--allow-local", action="store_true", help="allow a loopback URL (exercise feeds)")
    p.add_argument("--exercise", action="store_true", help="mark the events as exercise data (as an exercise feed would)")
    p.add_argument("--all", action="store_true", help="also print CAP Test, Draft and System messages")
    p = add("ingest", cmd_ingest, "ingest documents into the configured Redis through the worker pipeline")
    p.add_argument("files", nargs="+", metavar="FILE|URL")
    p.add_argument("--format", help="force a format (default: detect)")
    p.add_argument("--exercise", action="store_true", help="mark the events as exercise data")
    p = add("places", cmd_places, "places learned from the feeds: list them, or forget one taught wrong")
    places_sub = p.add_subparsers(dest="places_command", required=True, metavar="ACTION")
    places_sub.add_parser("list", help="every learned place as JSON Lines (point, observations, feeds)")
    q = places_sub.add_parser("forget", help="drop a learned place and its observations (audited)")
    q.add_argument("key", help='its key, as `places list` prints it (e.g. "US|CA|the geysers")')
    p = add("geocode", cmd_geocode, "print the place a text names as JSON (offline gazetteer; exit 1 if none)")
    p.add_argument("text", metavar="TEXT", help='e.g. "M 4.5 - 12 km SW of Ridgecrest, CA"')
    p.add_argument("--country", metavar="CC", help="favour places in this country (ISO code or name)")
    p.add_argument("--no-learned", action="store_true",
                   help="registry gazetteer only: leave out the places learned from the feeds (read from "
                        "the configured or running Redis when there is one)")
