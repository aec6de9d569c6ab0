"""The picture as it stands: ``incidents`` (and split/merge), ``health``, ``settings``."""

from __future__ import annotations

import argparse
import sys

import orjson

from domain.access.audit import audit
from domain.config.loader import Config
from domain.config.settings import SETTINGS
from domain.picture.health import health_report
from domain.store.connection import connect, redis_url
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client
from workers.overrides import FusionError, fuse_now, load_incidents, merge_incidents, split_incident


def cmd_incidents(args: argparse.Namespace, config: Config) -> int:
    """Fused incidents (one per happening, every report listed); ``split`` / ``merge`` overrides."""

    fusion = {"window_hours": float(config.fusion_window_hours), "lock_ttl": float(config.fusion_lock_seconds)}
    action = getattr(args, "incidents_command", None)
    out = sys.stdout.buffer
    with store_client(config) as client:
        if action in ("split", "merge"):
            actor = cli_actor()
            try:
                if action == "split":
                    done = split_incident(client, args.incident, args.event, actor, **fusion)  # type: ignore[arg-type]
                    record, reason = args.incident, f"split {args.event} into {done['new']}"
                else:
                    done = merge_incidents(client, args.a, args.b, actor, **fusion)  # type: ignore[arg-type]
                    record, reason = f"{args.a} {args.b}", f"merged into {done['incident']}"
            except FusionError as exc:
                audit(f"incident.{action}", record=getattr(args, "incident", "") or f"{args.a} {args.b}",
                      outcome="failed", reason=str(exc), user=actor, source="cli", client=client)  # type: ignore[arg-type]
                print(f"watchfloor: incidents {action}: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            audit(f"incident.{action}", record=record, reason=reason, user=actor, source="cli",
                  client=client)  # type: ignore[arg-type]
            out.write(orjson.dumps(done) + b"\n")
            return 0
        if not fuse_now(client, **fusion):  # type: ignore[arg-type]
            print("warning: the running fuser has not caught up; incidents may be a few seconds behind",
                  file=sys.stderr)
        incidents = [i for i in load_incidents(client, aged=args.aged)  # type: ignore[arg-type]
                     if len(i.get("superseded") or ()) < len(i["reports"])]  # every report replaced: not shown
    for incident in incidents:
        if args.json:
            out.write(orjson.dumps(incident) + b"\n")
        else:
            where = f"{incident['lat']:.3f},{incident['lon']:.3f}" if incident["lat"] is not None else "unplaced"
            sources = ",".join(sorted({r["source"] for r in incident["reports"]}))
            out.write(f"{incident['time']}  {incident['severity']:<8} {incident['kind']:<10} {where:<18} "
                      f"{incident['title']}  [{len(incident['reports'])} report(s): {sources}]  {incident['id']}\n"
                      .encode())
    return 0


def cmd_health(args: argparse.Namespace, config: Config) -> int:
    url = redis_url(config)
    report = health_report(config, connect(url, timeout=2) if url else None)
    sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    return 0 if report["redis"] else 1


def cmd_settings(args: argparse.Namespace, config: Config) -> int:
    for setting in SETTINGS:
        value = config.values[setting.name]
        if setting.name.endswith(("_secret", "_password")) and value:
            value = "********"  # never print a secret
        print(f"{setting.name} = {value!r}   (env {setting.env}; default {setting.default!r})")
        print(f"    {setting.help}")
    print(f"config file: {config.source}; feeds: {', '.join(f.id for f in config.feeds) or 'none'}")
    return 0



def register(add: AddCommand) -> None:
    p = add("incidents", cmd_incidents, "print the fused incidents (one per happening, with its reports)")
    p.add_argument("--json", action="store_true", help="JSON Lines")
    p.add_argument("--aged", action="store_true", help="the incidents aged out of the live set instead "
                   "(no report for incident_max_age_days)")
    inc_sub = p.add_subparsers(dest="incidents_command", required=False, metavar="ACTION")
    q = inc_sub.add_parser("split", help="take a report out of an incident for good")
    q.add_argument("incident")
    q.add_argument("event", help="the report's event id (see `watchfloor incidents --json`)")
    q = inc_sub.add_parser("merge", help="make two incidents one for good (the older id survives)")
    q.add_argument("a", metavar="INCIDENT")
    q.add_argument("b", metavar="INCIDENT")
    add("health", cmd_health, "print feed health and the event count as JSON")
    add("settings", cmd_settings, "list every setting with its current value")

