"""The ``watchfloor`` command. Bad input gets one line on stderr and exit status 2, never a traceback.

    watchfloor up                      the whole live picture (Redis, exercise feeds, workers, cron, web)
    watchfloor parse FILE|URL          print a document's events as JSON Lines (same code as the workers)
    watchfloor ingest FILE...          ingest documents into the configured Redis
    watchfloor incidents [--json]      the current picture
    watchfloor health                  feed health and event count (JSON)
    watchfloor settings                every setting, its value and where it came from
    watchfloor web | worker | cron     one process of the tree (what `up` starts)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
from redis import RedisError

from feeds.contract import FeedConfig, FeedError
from watchfloor.config import Config, ConfigError, config_path, load_config
from watchfloor.settings import SETTINGS

EXIT_BAD_INPUT = 2


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def cmd_up(args: argparse.Namespace, config: Config) -> int:
    from watchfloor.supervisor import run_up

    return run_up(config, str(config_path(args.config)))


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    import uvicorn

    from dashboard import create_app

    app = create_app(config)
    uvicorn.run(app.server, host=str(config.host), port=int(config.port), log_level="warning", proxy_headers=False)
    return 0


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    from workers.connection import client_for
    from workers.schedule import run_worker

    run_worker(config, client_for(config), burst=args.burst)
    return 0


def cmd_cron(args: argparse.Namespace, config: Config) -> int:
    from workers.connection import client_for
    from workers.schedule import run_cron

    run_cron(config, client_for(config))
    return 0


def _read_document(target: str, config: Config, allow_local: bool) -> tuple[bytes, str]:
    """Bytes of a local file, or of a URL fetched with the workers' limits and SSRF guard."""
    if target.startswith(("http://", "https://")):
        from feeds.fetch import FetchLimits, fetch

        limits = FetchLimits(
            deadline=float(config.fetch_timeout), max_bytes=int(config.fetch_max_bytes), allow_local=allow_local
        )
        return fetch(target, limits=limits).body, target
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
    from workers.ingest import parse_document, prepare

    data, name = _read_document(args.target, config, args.allow_local)
    feed = _cli_feed(name, args.format, exercise=True)
    fetched_at = datetime.now(UTC)
    result = parse_document(data, feed, fetched_at)
    events = result.events
    if args.place:
        events = prepare(result, feed, fetched_at).events
    out = sys.stdout.buffer
    for event in events:
        out.write(orjson.dumps(event.to_dict()) + b"\n")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.follow:
        print(f"note: the document points to {len(result.follow)} more document(s) (not fetched by parse)", file=sys.stderr)
    return 0


@contextmanager
def _redis(config: Config) -> Iterator[object]:
    """The configured Redis, or the running embedded one; else an embedded one for this command."""
    from watchfloor.redis_server import EmbeddedRedis
    from workers.connection import connect, redis_url

    url = redis_url(config)
    if url:
        client = connect(url)
        yield client
        client.close()
        return
    with EmbeddedRedis(config.data_path / "redis") as server:
        client = connect(server.url)
        yield client
        client.close()


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from workers.ingest import parse_document, prepare
    from workers.streams import EventStore

    failed = 0
    with _redis(config) as client:
        store = EventStore(client)  # type: ignore[arg-type]
        for target in args.files:
            try:
                data, name = _read_document(target, config, allow_local=False)
                feed = _cli_feed(name, args.format, exercise=args.exercise)
                fetched_at = datetime.now(UTC)
                prepared = prepare(parse_document(data, feed, fetched_at), feed, fetched_at)
                counts = store.append(prepared.events)
            except FeedError as exc:
                print(f"{target}: refused: {exc}", file=sys.stderr)
                failed += 1
                continue
            held = f", {prepared.not_live} not live (test/draft)" if prepared.not_live else ""
            print(f"{target}: {counts.new} new, {counts.updated} updated, {counts.seen} already seen{held}")
    return EXIT_BAD_INPUT if failed else 0


def cmd_incidents(args: argparse.Namespace, config: Config) -> int:
    from workers.streams import EventStore

    with _redis(config) as client:
        events = sorted(EventStore(client).current(), key=lambda e: e["time"], reverse=True)  # type: ignore[arg-type]
    out = sys.stdout.buffer
    for event in events:
        if args.json:
            row = {**event, "reports": [{"source": event["source"], "feed": event["feed"], "id": event["id"]}]}
            out.write(orjson.dumps(row) + b"\n")
        else:
            where = f"{event['lat']:.3f},{event['lon']:.3f}" if event["lat"] is not None else "unplaced"
            out.write(f"{event['time']}  {event['severity']:<8} {event['kind']:<10} {where:<18} {event['title']}\n".encode())
    return 0


def cmd_health(args: argparse.Namespace, config: Config) -> int:
    from dashboard.health import health_report
    from workers.connection import connect, redis_url

    url = redis_url(config)
    report = health_report(config, connect(url, timeout=2) if url else None)
    sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    return 0 if report["redis"] else 1


def cmd_settings(args: argparse.Namespace, config: Config) -> int:
    for setting in SETTINGS:
        print(f"{setting.name} = {config.values[setting.name]!r}   (env {setting.env}; default {setting.default!r})")
        print(f"    {setting.help}")
    print(f"config file: {config.source}; feeds: {', '.join(f.id for f in config.feeds) or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchfloor", description="Watchfloor: a live common operating picture.")
    parser.add_argument("--config", help="configuration file (TOML); default: $WATCHFLOOR_CONFIG, ./watchfloor.toml, built-in")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Config], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("up", cmd_up, "start the whole live picture (what `make run` does)")
    add("web", cmd_web, "run the web app only")
    add("worker", cmd_worker, "run one RQ worker").add_argument("--burst", action="store_true", help="exit when the queue is empty")
    add("cron", cmd_cron, "run the RQ cron scheduler that enqueues feed polls")
    p = add("parse", cmd_parse, "print the events of a document as JSON Lines")
    p.add_argument("target", metavar="FILE|URL")
    p.add_argument("--format", help="force a format (default: detect from the content)")
    p.add_argument("--place", action="store_true", help="also place unplaced events with the offline gazetteer")
    p.add_argument("--allow-local", action="store_true", help="allow a loopback URL (exercise feeds)")
    p = add("ingest", cmd_ingest, "ingest documents into the configured Redis through the worker pipeline")
    p.add_argument("files", nargs="+", metavar="FILE|URL")
    p.add_argument("--format", help="force a format (default: detect)")
    p.add_argument("--exercise", action="store_true", help="mark the events as exercise data")
    add("incidents", cmd_incidents, "print the current picture").add_argument("--json", action="store_true", help="JSON Lines")
    add("health", cmd_health, "print feed health and the event count as JSON")
    add("settings", cmd_settings, "list every setting with its current value")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        _setup_logging(str(config.log_level))
        return int(args.func(args, config) or 0)
    except ConfigError as exc:
        print(f"watchfloor: configuration error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FeedError as exc:
        print(f"watchfloor: {args.command}: refused: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except RedisError as exc:
        print(f"watchfloor: {args.command}: Redis unreachable ({type(exc).__name__}); is `watchfloor up` running, "
              "or REDIS_URL right?", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"watchfloor: {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
