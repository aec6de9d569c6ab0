"""``watchfloor replay``: a window of the picture told in order for an exercise debrief (incidents
appearing, merging and closing, threat levels changing with their causes, alerts, annotations), or
with ``--at`` the picture at one instant. Read-only; the reader's TLP maximum filters everything."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from domain.access.audit import audit
from domain.access.tlp import TLPError
from domain.access.tlp import parse as parse_tlp
from domain.config.loader import Config
from domain.config.workspaces import workspaces_for
from domain.errors import WatchfloorError
from domain.picture.threat import relevance
from domain.replay.frames import frame
from domain.replay.picture import Replay, ReplayError, Window, parse_time
from domain.replay.timeline import picture_lines, timeline
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client


def _near(items: list[dict[str, Any]], workspace: Any) -> list[dict[str, Any]]:
    return [i for i in items if relevance(i, workspace)[0] > 0]


def _scoped(client: Any, replay: Replay, ceiling: Any, workspace: Any) -> list[dict[str, Any]]:
    """The window's timeline; with a workspace, only its incidents (those near it at the window's end)
    and its own and the whole picture's levels (alerts and annotations of those incidents stay)."""
    items = timeline(client, replay, ceiling)
    if workspace is None:
        return items
    near = {i["id"] for i in _near(replay.incidents_at(replay.window.end), workspace)}

    def kept(item: dict[str, Any]) -> bool:
        if item["kind"].startswith("incident") or item["kind"] == "annotation":
            return item["id"] in near
        return item["kind"] != "level" or item["id"] in ("global", workspace.id)

    return [i for i in items if kept(i)]


def cmd_replay(args: argparse.Namespace, config: Config) -> int:
    try:
        ceiling = parse_tlp(args.tlp)
        window = Window.parse(args.start, args.end)
        at = parse_time(args.at, "at") if args.at else None
        if at is not None and window.end < at <= parse_time(args.end, "to"):
            at = window.end  # in the window asked for, past now (the window stops at now): the picture now
        if at is not None and not window.start <= at <= window.end:
            raise ReplayError(f"at: {at:%Y-%m-%dT%H:%M:%SZ} is outside the window "
                              f"{window.start:%Y-%m-%dT%H:%M:%SZ} – {window.end:%Y-%m-%dT%H:%M:%SZ}")
        spaces = workspaces_for(config)
        workspace = None
        if args.workspace:
            workspace = next((w for w in spaces if w.id == args.workspace), None)
            if workspace is None:
                raise WatchfloorError(f"workspace: no workspace {args.workspace!r}; there are: "
                                      f"{', '.join(w.id for w in spaces) or 'none'}")
        with store_client(config) as client:
            replay = Replay.build(client, window, archive=config.data_path / "archive" / "events",
                                  fusion_window_hours=float(config.fusion_window_hours))
            audit("replay.read", record=f"{window.start:%Y-%m-%dT%H:%M:%SZ}/{window.end:%Y-%m-%dT%H:%M:%SZ}",
                  reason=f"cli at {ceiling.value}", user=cli_actor(), source="cli", client=client)
            if at is not None:
                shown = frame(client, replay, at, ceiling, [workspace] if workspace else spaces)
                if workspace is not None:
                    shown["incidents"] = _near(shown["incidents"], workspace)
                out: Any = shown
            else:
                out = _scoped(client, replay, ceiling, workspace)
    except (WatchfloorError, TLPError) as exc:
        print(f"watchfloor: replay: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        body = {"window": {"from": window.start.isoformat(), "to": window.end.isoformat()},
                "tlp": ceiling.value, ("picture" if at is not None else "timeline"): out}
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    lines = picture_lines(out) if at is not None else [
        f"REPLAY {window.start:%Y-%m-%dT%H:%M:%SZ} – {window.end:%Y-%m-%dT%H:%M:%SZ} ({ceiling.value}): "
        f"{len(out)} item(s)", *(f"{i['at']}  {i['kind']:<16} {i['text']}" for i in out)]
    print("\n".join(lines))
    return 0


def register(add: AddCommand) -> None:
    p = add("replay", cmd_replay, "the picture as it was over a window, for a debrief (read-only)")
    p.add_argument("--from", dest="start", required=True, help="start: 2026-04-20T06:00Z (UTC) or 6h back")
    p.add_argument("--to", dest="end", required=True, help="end: 2026-04-20T18:00Z or 0m (now)")
    p.add_argument("--at", help="print the picture at this instant of the window instead of the timeline")
    p.add_argument("--workspace", help="a workspace's id: only what concerns it (default: the whole picture)")
    p.add_argument("--tlp", default="TLP:CLEAR", help="highest marking the readers may receive (default TLP:CLEAR)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
