"""Records of what the floor did and sent: ``audit``, ``intel``, ``outbound``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import orjson

from domain.access.audit import read
from domain.config.loader import Config
from domain.operations.criminal_intel import disseminations, purge, purge_candidates
from domain.store.connection import client_for
from watchfloor.cli.common import AddCommand, cli_actor, store_client
from workers.outbound import work


def _parse_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (example: 2026-11-01 or 2026-11-01T08:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout.buffer
    with store_client(config) as client:
        for rec in read(client, since=args.since, until=args.until):  # type: ignore[arg-type]
            if args.user and rec.user != args.user:
                continue
            if args.action and not rec.action.startswith(args.action):
                continue
            out.write(orjson.dumps(rec.to_dict()) + b"\n")
    return 0


def cmd_intel(args: argparse.Namespace, config: Config) -> int:
    """28 CFR Part 23: list or purge criminal-intelligence records past their review date."""

    out = sys.stdout.buffer
    with store_client(config) as client:
        if args.intel_command == "purge":
            items = purge(client, dry_run=args.dry_run, actor=cli_actor())  # type: ignore[arg-type]
            for item in items:
                out.write(orjson.dumps(item.to_dict()) + b"\n")
            verb = "would remove" if args.dry_run else "removed"
            print(f"{verb} {len(items)} criminal-intelligence record(s) past review without validation",
                  file=sys.stderr)
        elif args.intel_command == "due":
            for item in purge_candidates(client):  # type: ignore[arg-type]
                out.write(orjson.dumps(item.to_dict()) + b"\n")
        elif args.intel_command == "disseminations":
            for row in disseminations(client, args.incident):  # type: ignore[arg-type]
                out.write(orjson.dumps(row) + b"\n")
    return 0


def cmd_outbound(args: argparse.Namespace, config: Config) -> int:
    """The RQ worker that sends webhook and e-mail copies of alerts (queue watchfloor-outbound)."""

    work(config, client_for(config), burst=args.burst)
    return 0



def register(add: AddCommand) -> None:
    p = add("audit", cmd_audit, "print audit records as JSON Lines")
    p.add_argument("--since", type=_parse_when, help="from this UTC date or time (inclusive), e.g. 2026-11-01")
    p.add_argument("--until", type=_parse_when, help="up to this UTC date or time (exclusive)")
    p.add_argument("--user", help="only this user's records")
    p.add_argument("--action", help="only actions starting with this (login, account., callback...)")
    p = add("intel", cmd_intel, "criminal intelligence (28 CFR Part 23): review dates, purge, dissemination log")
    intel_sub = p.add_subparsers(dest="intel_command", required=True, metavar="ACTION")
    q = intel_sub.add_parser("purge", help="remove records past their review date without validation (audited)")
    q.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    intel_sub.add_parser("due", help="list records past their review date")
    q = intel_sub.add_parser("disseminations", help="the dissemination log as JSON Lines")
    q.add_argument("--incident", help="only this incident's")
    p = add("outbound", cmd_outbound, "send webhook and e-mail copies of alerts")
    outbound_sub = p.add_subparsers(dest="outbound_command", required=True, metavar="ACTION")
    outbound_sub.add_parser("work", help="run the outbound RQ worker (with its retry scheduler)").add_argument(
        "--burst", action="store_true", help="exit when the queue is empty")
