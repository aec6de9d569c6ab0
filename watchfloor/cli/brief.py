"""``watchfloor brief``: a situation report as PDF or HTML, for a workspace or the whole picture."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from domain.access.tlp import TLPError
from domain.access.tlp import parse as parse_tlp
from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.errors import WatchfloorError
from domain.picture.health import feed_status
from domain.products import briefing, exports
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, recipient_reader, store_client


def cmd_brief(args: argparse.Namespace, config: Config) -> int:
    try:
        fmt = "pdf" if args.out.lower().endswith(".pdf") else "html" if args.out.lower().endswith((".html", ".htm")) else ""
        if not fmt:
            raise WatchfloorError(f"--out {args.out!r}: name a .pdf or an .html file")
        ceiling = parse_tlp(args.tlp)
        since = exports.parse_since(args.since) or exports.parse_since("24h")
        until = exports.parse_since(args.until) if args.until else datetime.now(UTC)
        summary = Path(args.summary_file).read_text(encoding="utf-8") if args.summary_file else (args.summary or "")
        spaces = workspaces_for(config)
        workspace = None
        if args.workspace:
            workspace = next((w for w in spaces if w.id == args.workspace), None)
            if workspace is None:
                raise WatchfloorError(f"workspace: no workspace {args.workspace!r}; there are: "
                                      f"{', '.join(w.id for w in spaces) or 'none'}")
        with store_client(config) as client:
            ceiling = recipient_reader(client, ceiling, args.for_agency)
            brief = briefing.gather(client, ceiling=ceiling, by=cli_actor(), workspaces=spaces, workspace=workspace,
                                    since=since, until=until, summary=summary, feeds=feed_status(config, client))
            body = briefing.produce(client, brief, fmt, recipient=args.to or (args.for_agency or "").upper(), channel=f"file {args.out}", source="cli")
        Path(args.out).write_bytes(body)
    except (WatchfloorError, TLPError) as exc:
        print(f"watchfloor: brief: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.out}: {len(brief.incidents)} key incident(s) of {brief.total}, marked {brief.marking.value}",
          file=sys.stderr)
    return 0


def register(add: AddCommand) -> None:
    p = add("brief", cmd_brief, "a situation report (PDF or HTML) for a workspace or the whole picture (logged)")
    p.add_argument("--out", required=True, help="the file to write: .pdf or .html")
    p.add_argument("--workspace", help="a workspace's id (default: the whole picture)")
    p.add_argument("--since", default="24h", help="from: 2026-04-20, 2026-04-20T06:00Z, or 24h / 2d back (default 24h)")
    p.add_argument("--until", help="to (default: now)")
    p.add_argument("--tlp", default="TLP:CLEAR", help="highest marking the readers may receive (default TLP:CLEAR)")
    p.add_argument("--to", default="", help="who it is for (the dissemination log records it)")
    p.add_argument("--for-agency", metavar="CODE",
                   help="for members of this agency: its own and listed items and its threat levels, capped by its "
                        "TLP ceiling (default: the host center's partners, what is shared with all)")
    p.add_argument("--summary", help="the analyst's summary text")
    p.add_argument("--summary-file", help="read the analyst's summary from this file")
