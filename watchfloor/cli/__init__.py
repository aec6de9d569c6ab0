"""The ``watchfloor`` command. Bad input gets one line on stderr and exit status 2, never a traceback.

watchfloor up                      the whole live picture (Redis, exercise feeds, workers, cron, web)
watchfloor parse FILE|URL          print a document's events as JSON Lines (same code as the workers)
watchfloor ingest FILE...          ingest documents into the configured Redis
watchfloor incidents [--json]      the fused incidents (one per happening, with every report)
watchfloor incidents split INC EV  take report EV out of incident INC (sticks); merge A B: one incident
watchfloor fuse                    the fuser (what `up` starts; one active across hosts)
watchfloor health                  feed health and event count (JSON)
watchfloor settings                every setting, its value and where it came from
watchfloor web | worker | cron     one process of the tree (what `up` starts)
watchfloor user add|passwd|disable|enable|unlock|role|list   people's accounts
watchfloor display add NAME        a wall screen's account and its sign-in URL
watchfloor audit [--since DATE]    the audit trail as JSON Lines
watchfloor intel purge [--dry-run] criminal intelligence past review (28 CFR Part 23); due, disseminations
watchfloor tlp show|set NAME LABEL the highest TLP label each account may receive
watchfloor partner add NAME        a partner's Atom feed URL (token sign-in, up to --tlp)
watchfloor outbound work           the worker that sends webhook and e-mail copies of alerts
watchfloor geocode "TEXT" [--country CC]   the place a text names, as JSON (offline gazetteer)
watchfloor places list|forget KEY  places learned from the feeds; forget one a feed taught wrong
watchfloor sar add FILE.json       suspicious-activity reports; list, show, move ID STATE, queue, purge
watchfloor entities [--json]       people, vehicles, phones, e-mails, organisations, addresses in reports
watchfloor links ENTITY | path A B an entity's links (bounded), or the shortest path between two
watchfloor export --format F       the picture as geojson, csv, kml or cot (TLP-filtered, logged)
watchfloor brief --out FILE.pdf    a situation report for a workspace or the whole picture (logged)
watchfloor share create|list|revoke   read-only links to an incident, a workspace or a briefing
watchfloor agency add|update|list|remove   partner agencies; agency token create|list|revoke CODE: push tokens
watchfloor replay --from T --to T  the window told in order for a debrief; --at T: the picture then

One module per command group (processes, documents, picture, accounts, agencies, records, reports, products); each registers its
commands in :func:`build_parser`, the one list of every command.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable, Sequence

from redis import RedisError

from domain.config.loader import Config, ConfigError, load_config
from feeds.contract import FeedError
from watchfloor.cli import (
    accounts,
    agencies,
    basemap,
    brief,
    documents,
    picture,
    processes,
    products,
    records,
    replay,
    reports,
)
from watchfloor.cli.common import EXIT_BAD_INPUT
from watchfloor.logs import setup_logging

__all__ = ["build_parser", "main"]

COMMAND_GROUPS = (processes, documents, picture, accounts, agencies, records, basemap, reports, products, brief, replay)


def version() -> str:
    try:
        return importlib.metadata.version("watchfloor")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchfloor", description="Watchfloor: a live common operating picture.")
    parser.add_argument("--version", action="version", version=f"watchfloor {version()}")
    parser.add_argument("--config", help="configuration file (TOML); default: $WATCHFLOOR_CONFIG, ./watchfloor.toml, built-in")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Config], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    for group in COMMAND_GROUPS:
        group.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        setup_logging(str(config.log_level), str(config.log_format))
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
