"""What the floor hands on: ``export`` (GeoJSON, CSV, KML, Cursor on Target)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from domain.access.tlp import TLPError
from domain.access.tlp import parse as parse_tlp
from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.errors import WatchfloorError
from domain.products import exports, shares
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, recipient_reader, store_client, web_base


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    try:
        ceiling = parse_tlp(args.tlp)
        since = exports.parse_since(args.since)
        workspace = None
        if args.workspace:
            spaces = {w.id: w for w in workspaces_for(config)}
            if args.workspace not in spaces:
                raise WatchfloorError(f"workspace: no workspace {args.workspace!r}; there are: "
                                      f"{', '.join(spaces) or 'none'}")
            workspace = spaces[args.workspace]
        with store_client(config) as client:
            ceiling = recipient_reader(client, ceiling, args.for_agency)
            channel = f"cot stream {args.send}" if args.send else (f"file {args.out}" if args.out else "stdout")
            body, count, marking = exports.export(client, args.format, ceiling, by=cli_actor(),
                                                  recipient=args.to or (args.for_agency or "").upper(),
                                                  channel=channel, workspace=workspace, since=since, source="cli")
        if args.send:
            exports.send_cot(args.send, body)
        elif args.out:
            Path(args.out).write_bytes(body)
        else:
            sys.stdout.buffer.write(body)
    except (WatchfloorError, TLPError) as exc:
        print(f"watchfloor: export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"exported {count} incident(s) as {args.format}, marked {marking.value}", file=sys.stderr)
    return 0


def cmd_share(args: argparse.Namespace, config: Config) -> int:
    try:
        with store_client(config) as client:
            if args.share_command == "create":
                token, record = shares.create(client, kind=args.kind, target=args.target, creator=None,
                                              hours=args.hours, tlp=args.tlp, recipient=args.to, source="cli")
                print(f"{web_base(config, args.url)}/share/{token}")
                print(f"share {record['id']}: {record['kind']} {record['target']} at {record['tlp']}, "
                      f"valid {args.hours:g} h; the link is shown only now", file=sys.stderr)
            elif args.share_command == "list":
                for record in shares.listing(client):
                    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
            else:
                shares.revoke(client, args.id, None, source="cli")
                print(f"share {args.id} withdrawn", file=sys.stderr)
    except WatchfloorError as exc:
        print(f"watchfloor: share: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def register(add: AddCommand) -> None:
    p = add("export", cmd_export, "the live picture as GeoJSON, CSV, KML or Cursor on Target (logged)")
    p.add_argument("--format", required=True, choices=exports.FORMATS)
    p.add_argument("--workspace", help="only incidents near this workspace (its id)")
    p.add_argument("--since", help="only incidents since: 2026-04-20, 2026-04-20T14:00Z, or 6h / 2d back")
    p.add_argument("--out", help="write here (default: standard output)")
    p.add_argument("--tlp", default="TLP:CLEAR", help="highest marking the recipient may receive (default TLP:CLEAR)")
    p.add_argument("--to", default="", help="who it is for (the dissemination log records it)")
    p.add_argument("--for-agency", metavar="CODE",
                   help="for members of this agency: its own and listed items too, capped by its TLP ceiling "
                        "(default: the host center's partners, what is shared with all)")
    p.add_argument("--send", metavar="tcp://HOST:PORT", help="cot only: stream the events to a TAK server's TCP input")
    p = add("share", cmd_share, "read-only share links to an incident, a workspace or a briefing (audited)")
    sub = p.add_subparsers(dest="share_command", required=True, metavar="ACTION")
    q = sub.add_parser("create", help="a new link (printed once)")
    q.add_argument("kind", choices=shares.KINDS)
    q.add_argument("target", nargs="?", default="", help="the incident or workspace id (a briefing: a workspace or none)")
    q.add_argument("--hours", type=float, default=shares.DEFAULT_HOURS, help=f"valid this long (at most {shares.MAX_HOURS})")
    q.add_argument("--tlp", default="TLP:CLEAR", help="the highest marking the link shows (default TLP:CLEAR)")
    q.add_argument("--to", default="", help="who it is for (audited)")
    q.add_argument("--url", help="the base URL people reach the app at (default: the running stack's)")
    sub.add_parser("list", help="live links as JSON Lines (never their tokens)")
    sub.add_parser("revoke", help="withdraw a link by its id").add_argument("id")
