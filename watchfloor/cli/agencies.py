"""Partner agencies: ``agency add|update|list|remove`` and their push tokens (``agency token``)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import orjson

from domain.access.audit import audit
from domain.agencies import sources, tokens
from domain.agencies.store import KINDS, AgencyError, AgencyStore
from domain.config.loader import Config
from domain.errors import WatchfloorError
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%MZ") if epoch else "-"


def _token(args: argparse.Namespace, client: object, actor: str) -> int:
    code = args.code
    if args.token_command == "create":
        token, token_id = tokens.create(client, code, by=actor, label=args.label)  # type: ignore[arg-type]
        audit("agency.token.create", record=code.upper(), reason=f"token {token_id}", user=actor, source="cli",
              client=client)  # type: ignore[arg-type]
        print(token)
        print(f"token {token_id} for {code.upper()}: shown once, store it now. Partners send it as "
              "'Authorization: Bearer TOKEN' to POST /api/ingest.", file=sys.stderr)
    elif args.token_command == "list":
        for row in tokens.listing(client, code):  # type: ignore[arg-type]
            state = f"revoked {_when(row.get('revoked'))}" if row.get("revoked") else "live"
            print(f"{row['id']}  {state:<24} made {_when(row.get('created'))} by {row.get('by') or '-'}  "
                  f"last used {_when(row.get('used'))}  {row.get('label') or ''}".rstrip())
    else:
        row = tokens.revoke(client, code, args.token_id)  # type: ignore[arg-type]
        audit("agency.token.revoke", record=code.upper(), reason=f"token {row['id']}", user=actor, source="cli",
              client=client)  # type: ignore[arg-type]
        print(f"revoked token {row['id']} of {code.upper()}; it is refused from now on")
    return 0


def _source(args: argparse.Namespace, client: object, actor: str) -> int:
    if args.source and args.rule is None:
        raise AgencyError("rule: missing; give all, own, agencies:CODE,CODE or default after the source")
    if args.rule is None:
        for source_id, rule in sources.source_rules(client, args.code).items():  # type: ignore[arg-type]
            print(f"{source_id:<32} {rule}")
        return 0
    if args.rule == "default":
        sources.clear_source_rule(client, args.code, args.source)  # type: ignore[arg-type]
        said = "follows the agency's default"
    else:
        said = "shares with " + sources.set_source_rule(client, args.code, args.source, args.rule).describe()  # type: ignore[arg-type]
    audit("agency.source", record=f"{args.code.upper()}/{args.source}", reason=said, user=actor, source="cli",
          client=client)  # type: ignore[arg-type]
    print(f"{args.code.upper()} source {args.source}: {said}")
    return 0


def cmd_agency(args: argparse.Namespace, config: Config) -> int:
    actor = cli_actor()
    try:
        with store_client(config) as client:
            store = AgencyStore(client)  # type: ignore[arg-type]
            if args.agency_command == "token":
                return _token(args, client, actor)
            if args.agency_command == "source":
                return _source(args, client, actor)
            if args.agency_command == "list":
                agencies = store.list()
                if args.json:
                    for agency in agencies:
                        sys.stdout.write(orjson.dumps(agency.public()).decode() + "\n")
                for agency in [] if args.json else agencies:
                    print(f"{agency.code:<10} {agency.kind:<21} {agency.tlp.value:<16} {str(agency.sharing):<12} "
                          f"{agency.name}")
                return 0
            if args.agency_command == "add":
                agency = store.add(args.code, args.name, kind=args.kind, contact=args.contact, tlp=args.tlp,
                                   sharing=args.sharing, by=actor)
                what = "agency.create"
            elif args.agency_command == "update":
                agency = store.update(args.code, name=args.name, kind=args.kind, contact=args.contact, tlp=args.tlp,
                                      sharing=args.sharing)
                what = "agency.update"
            else:
                agency = store.remove(args.code)
                what = "agency.remove"
            audit(what, record=agency.code, reason=f"{agency.name}; {agency.kind}; up to {agency.tlp.value}; "
                  f"shares with {agency.sharing.describe()}", user=actor, source="cli", client=client)  # type: ignore[arg-type]
            done = {"agency.create": "added", "agency.update": "updated"}.get(what, "removed")
            print(f"{done} {agency.code}: {agency.name} ({KINDS.get(agency.kind, agency.kind)}, "
                  f"up to {agency.tlp.value}, shares with {agency.sharing.describe()})")
    except WatchfloorError as exc:
        print(f"watchfloor: agency: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def register(add: AddCommand) -> None:
    p = add("agency", cmd_agency, "partner agencies: their records, sharing rules and push tokens")
    sub = p.add_subparsers(dest="agency_command", required=True, metavar="ACTION")
    for action, text in (("add", "add an agency"), ("update", "change an agency's fields")):
        q = sub.add_parser(action, help=text, description=text)
        if action == "add":
            q.add_argument("name", help="the agency's name, e.g. 'Boston Fire Department'")
            q.add_argument("--code", required=True, help="short code, e.g. BFD (letters, digits, -; up to 16)")
            q.add_argument("--kind", default="law-enforcement", help=f"one of {', '.join(KINDS)}")
            q.add_argument("--contact", default="", help="who to call (name, phone or e-mail)")
        else:
            q.add_argument("code")
            q.add_argument("--name")
            q.add_argument("--kind", help=f"one of {', '.join(KINDS)}")
            q.add_argument("--contact")
        q.add_argument("--tlp", default=None if action == "update" else "TLP:AMBER",
                       help="the agency's TLP ceiling: none of its people receives more (default TLP:AMBER)")
        q.add_argument("--sharing", default=None if action == "update" else "all",
                       help="default rule for what it contributes: all, own, or agencies:CODE,CODE (default all)")
    q = sub.add_parser("list", help="every agency")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q = sub.add_parser("remove", help="remove an agency; its push tokens stop working at once")
    q.add_argument("code")
    q = sub.add_parser("source", help="a source's own sharing rule (list them without SOURCE)")
    q.add_argument("code")
    q.add_argument("source", nargs="?", help="the source (feed) id")
    q.add_argument("rule", nargs="?", help="all, own, agencies:CODE,CODE, or default (the agency's rule)")
    q = sub.add_parser("token", help="push tokens for POST /api/ingest: create (shown once), list, revoke")
    tsub = q.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    t = tsub.add_parser("create", help="a new token for the agency, printed once")
    t.add_argument("code")
    t.add_argument("--label", default="", help="what the token is for, e.g. 'CAD bridge'")
    t = tsub.add_parser("list", help="the agency's tokens (never the token itself)")
    t.add_argument("code")
    t = tsub.add_parser("revoke", help="revoke a token by its id")
    t.add_argument("code")
    t.add_argument("token_id")
