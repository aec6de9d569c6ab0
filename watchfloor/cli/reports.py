"""Suspicious-activity reports, entities and links: ``sar``, ``entities``, ``links``.

The CLI runs on the host with the store's own rights (like ``intel`` and ``audit``): it reads every
report and acts as ``cli:<login>`` in the audit trail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from domain.access.accounts import Role
from domain.access.audit import audit
from domain.config.loader import Config
from domain.errors import WatchfloorError
from domain.reports import entities, graph, store, vetting
from domain.reports.form import FormError
from domain.reports.keys import EntityKeys
from feeds.geocode.matcher import geocode
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client

MAX_FILE = 50_000_000


def _actor() -> SimpleNamespace:
    return SimpleNamespace(name=cli_actor(), role=Role.ADMIN)


def _fail(message: str) -> int:
    print(f"watchfloor: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _read_reports(path: str) -> list[Any]:
    raw = sys.stdin.buffer.read(MAX_FILE + 1) if path == "-" else Path(path).read_bytes()
    if len(raw) > MAX_FILE:
        raise WatchfloorError(f"{path}: larger than {MAX_FILE // 1_000_000} MB; split it")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WatchfloorError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return data if isinstance(data, list) else [data]


def cmd_sar(args: argparse.Namespace, config: Config) -> int:
    try:
        return _sar(args, config)
    except WatchfloorError as exc:
        return _fail(f"sar {args.sar_command}: {exc}")


def _sar(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout.buffer
    if args.sar_command == "add":
        items = _read_reports(args.file)
        built = []
        for i, item in enumerate(items):
            try:
                built.append(store.build(item, kind="sar", by=cli_actor(), channel="cli", geocode=geocode))
            except FormError as exc:
                raise WatchfloorError(f"{args.file}: report {i + 1}: {exc}" if len(items) > 1
                                      else f"{args.file}: {exc}") from None
        with store_client(config) as client:
            store.save_many(client, built, region=str(config.phone_region))
            for report in built:
                audit("sar.add", record=report["id"], reason=f"{report['category']} {report['tlp']} via cli",
                      user=cli_actor(), source="cli", client=client)
                out.write(orjson.dumps({"id": report["id"], "state": report["state"]}) + b"\n")
        print(f"added {len(built)} report(s)", file=sys.stderr)
        return 0
    with store_client(config) as client:
        if args.sar_command == "list":
            for report in store.listing(client, None, state=args.state, kind=args.kind, limit=args.limit):
                row = {k: report.get(k) for k in ("id", "kind", "state", "category", "time", "tlp")}
                out.write(orjson.dumps(row) + b"\n" if args.json else
                          f"{row['id']}  {row['state']:<9} {row['category'] or '-':<8} {row['time']}\n".encode())
        elif args.sar_command == "show":
            report = store.read(client, args.id, None)
            report.pop("receipt", None)
            out.write(orjson.dumps({"report": report, "history": store.history(client, args.id),
                                    "entities": entities.report_entities(client, args.id)},
                                   option=orjson.OPT_INDENT_2) + b"\n")
        elif args.sar_command == "move":
            data = {"to": args.to, "reason": args.reason, "category": args.category, "affirm": args.affirm}
            report = vetting.move(client, args.id, data, _actor(), source="cli")
            print(f"{report['id']}: {report['state']}", file=sys.stderr)
        elif args.sar_command == "queue":
            status = store.queue_status(client, float(config.sar_queue_target_hours))
            out.write(orjson.dumps({**status, "line": store.queue_line(status)}) + b"\n")
        elif args.sar_command == "purge":
            rows = vetting.purge(client, float(config.sar_retention_days), dry_run=args.dry_run,
                                 actor=cli_actor(), source="cli")
            for row in rows:
                out.write(orjson.dumps(row) + b"\n")
            print(f"{'would remove' if args.dry_run else 'removed'} {len(rows)} report(s)", file=sys.stderr)
    return 0


def cmd_entities(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout.buffer
    with store_client(config) as client:
        for raw_id in client.zrange(EntityKeys.ENTITIES, 0, -1):
            record = entities.load(client, raw_id.decode())
            if record is None or (args.type and record["type"] != args.type):
                continue
            row = {"id": record["id"], "type": record["type"], "label": record["label"],
                   "reports": entities.linked_reports(client, record["id"]), "confirmed": record.get("confirmed")}
            out.write(orjson.dumps(row) + b"\n" if args.json else
                      f"{row['id']}  {row['type']:<12} {row['label']}  ({len(row['reports'])} report(s))\n".encode())
    return 0


def cmd_links(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout.buffer
    words = args.words
    with store_client(config) as client:
        if words[0] == "path":
            if len(words) != 3:
                return _fail("links path: give two entities: watchfloor links path A B")
            a, b = (graph.node_id_for(client, w, str(config.phone_region)) for w in words[1:])
            missing = [w for w, n in zip(words[1:], (a, b), strict=True) if n is None]
            if missing:
                return _fail(f"links path: no entity or report {missing[0]!r} (an id, or type:value such as "
                             "vehicle:MA:ABC123)")
            found = graph.path(client, a, b, None)
            if found is None:
                print("no path", file=sys.stderr)
                return 1
            for node in found:
                out.write(orjson.dumps(node) + b"\n" if args.json else f"{node['id']}  {node['label']}\n".encode())
            return 0
        if len(words) != 1:
            return _fail("links: give one entity (or: links path A B)")
        start = graph.node_id_for(client, words[0], str(config.phone_region))
        if start is None:
            return _fail(f"links: no entity or report {words[0]!r} (an id, or type:value such as vehicle:MA:ABC123)")
        view = graph.neighbourhood(client, start, None, depth=args.depth, limit=args.limit)
        if args.json:
            out.write(orjson.dumps(view) + b"\n")
        else:
            for node in view["nodes"]:
                out.write(f"{'  ' * node['depth']}{node['id']}  {node['type']}  {node['label']}\n".encode())
            if view["truncated"]:
                print(f"truncated at {args.limit} nodes ({view['left_out']} more not shown): use --limit", file=sys.stderr)
    return 0


def register(add: AddCommand) -> None:
    p = add("sar", cmd_sar, "suspicious-activity reports: add, list, show, move through vetting, purge")
    sub = p.add_subparsers(dest="sar_command", required=True, metavar="ACTION")
    q = sub.add_parser("add", help="add reports from a JSON file (one report or a list; - for standard input)")
    q.add_argument("file")
    q = sub.add_parser("list", help="reports, newest first")
    q.add_argument("--state", choices=vetting.STATES)
    q.add_argument("--kind", choices=("sar", "tip"))
    q.add_argument("--limit", type=int, default=200)
    q.add_argument("--json", action="store_true", help="JSON Lines")
    sub.add_parser("show", help="one report with its history and entities").add_argument("id")
    q = sub.add_parser("move", help="move a report through vetting (audited)")
    q.add_argument("id")
    q.add_argument("to", choices=vetting.STATES)
    q.add_argument("--reason", required=True)
    q.add_argument("--category", help="behaviour category (screening sets it)")
    q.add_argument("--affirm", action="store_true", help="affirm the privacy rules (required to share)")
    sub.add_parser("queue", help="how many reports wait for vetting and the oldest's age")
    q = sub.add_parser("purge", help="remove reports past their retention (audited, with a purge record)")
    q.add_argument("--dry-run", action="store_true")
    p = add("entities", cmd_entities, "entities from reports (people, vehicles, phones, e-mails, organisations, addresses)")
    p.add_argument("--type", choices=entities.TYPES)
    p.add_argument("--json", action="store_true", help="JSON Lines: id, type, label, reports")
    p = add("links", cmd_links, "links of an entity (links ENTITY [--depth N]) or the path between two (links path A B)")
    p.add_argument("words", nargs="+", metavar="ENTITY")
    p.add_argument("--depth", type=int, default=2, choices=range(1, 7), metavar="N")
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--json", action="store_true")
