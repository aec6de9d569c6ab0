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
    from watchfloor.redis_server import EmbeddedRedis, secure_dir
    from workers.connection import connect, redis_url

    url = redis_url(config)
    if url:
        client = connect(url)
        yield client
        client.close()
        return
    secure_dir(config.data_path)
    with EmbeddedRedis(config.data_path / "redis") as server:
        client = connect(server.url)
        yield client
        client.close()


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from workers import places
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


def cmd_incidents(args: argparse.Namespace, config: Config) -> int:
    """Fused incidents (one per happening, every report listed); ``split`` / ``merge`` overrides."""
    from workers.fusion import FusionError, fuse_now, load_incidents, merge_incidents, split_incident

    fusion = {"window_hours": float(config.fusion_window_hours), "lock_ttl": float(config.fusion_lock_seconds)}
    action = getattr(args, "incidents_command", None)
    out = sys.stdout.buffer
    with _redis(config) as client:
        if action in ("split", "merge"):
            from dashboard.audit import audit

            actor = _cli_actor()
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
        incidents = [i for i in load_incidents(client)  # type: ignore[arg-type]
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


def cmd_fuse(args: argparse.Namespace, config: Config) -> int:
    """The fuser process (one active across hosts; others wait as standbys). SIGTERM stops it cleanly."""
    import signal
    import threading

    from workers.connection import client_for
    from workers.fusion import Fuser

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fuser = Fuser(client_for(config), window_hours=float(config.fusion_window_hours),
                  lock_ttl=float(config.fusion_lock_seconds))
    try:
        fuser.run(stop)
    except KeyboardInterrupt:
        pass
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
        value = config.values[setting.name]
        if setting.name.endswith(("_secret", "_password")) and value:
            value = "********"  # never print a secret
        print(f"{setting.name} = {value!r}   (env {setting.env}; default {setting.default!r})")
        print(f"    {setting.help}")
    print(f"config file: {config.source}; feeds: {', '.join(f.id for f in config.feeds) or 'none'}")
    return 0


# -- accounts, display screens and the audit trail (dashboard.accounts, dashboard.audit) ----------------
def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _read_new_password(args: argparse.Namespace) -> str:
    """From stdin (--password-stdin, one line) or prompted twice on the terminal; never an argument."""
    import getpass

    from dashboard.accounts import WeakPassword

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise WeakPassword("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise WeakPassword("no terminal to ask for the password on; pipe it in with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise WeakPassword("the two passwords differ")
    return first


def _account_command(run: Callable[[argparse.Namespace, Config], int]) -> Callable[[argparse.Namespace, Config], int]:
    """Account errors are bad input: one line on stderr, exit status 2."""

    def wrapped(args: argparse.Namespace, config: Config) -> int:
        from dashboard.accounts import AccountError

        try:
            return run(args, config)
        except AccountError as exc:
            print(f"watchfloor: {args.command}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapped


@_account_command
def cmd_user(args: argparse.Namespace, config: Config) -> int:
    from dashboard.accounts import AccountStore, Role
    from dashboard.audit import audit

    actor = _cli_actor()
    with _redis(config) as client:
        store = AccountStore(client)  # type: ignore[arg-type]

        def record(action: str, name: str, reason: str = "") -> None:
            audit(action, record=name, reason=reason, user=actor, source="cli", client=client)  # type: ignore[arg-type]

        if args.user_command == "list":
            for user in store.list():
                flags = [f for f, on in (("disabled", user.disabled), ("locked", user.locked),
                                         ("must-change-password", user.must_change_password)) if on]
                print(f"{user.name:<24} {user.role.value:<10} {' '.join(flags)}".rstrip())
            return 0
        name = args.name
        if args.user_command == "add":
            role = Role.parse(args.role)
            if role is Role.DISPLAY:
                print("watchfloor: user add: display screens are added with `watchfloor display add NAME`",
                      file=sys.stderr)
                return EXIT_BAD_INPUT
            from dashboard.accounts import check_name

            check_name(name)
            store.create(name, role, _read_new_password(args), must_change=args.must_change)
            record("account.create", name, f"role {role.value}")
            print(f"added {name} ({role.value})")
        elif args.user_command == "passwd":
            store.require(name)
            store.set_password(name, _read_new_password(args), must_change=args.must_change)
            record("account.password", name, "set by an administrator; sessions ended")
            print(f"password of {name} changed; its sessions have ended")
        elif args.user_command == "disable":
            store.set_disabled(name, True)
            record("account.disable", name, "sessions ended")
            print(f"disabled {name}; its sessions have ended")
        elif args.user_command == "enable":
            store.set_disabled(name, False)
            record("account.enable", name)
            print(f"enabled {name}")
        elif args.user_command == "unlock":
            store.unlock(name)
            record("account.unlock", name)
            print(f"unlocked {name}")
        elif args.user_command == "role":
            user = store.set_role(name, Role.parse(args.role))
            record("account.role", name, f"role {user.role.value}; sessions ended")
            print(f"{name} is now {user.role.value}; its sessions have ended")
    return 0


@_account_command
def cmd_display(args: argparse.Namespace, config: Config) -> int:
    from dashboard.accounts import AccountStore
    from dashboard.audit import audit

    with _redis(config) as client:
        user, token = AccountStore(client).create_display(args.name)  # type: ignore[arg-type]
        audit("account.display", record=user.name, reason="display token issued; any earlier token revoked",
              user=_cli_actor(), source="cli", client=client)  # type: ignore[arg-type]
    host = str(config.host)
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.getfqdn()
    base = (args.url or f"http://{host}:{config.port}").rstrip("/")
    page = "/" + args.page.lstrip("/")
    print(f"{base}{page}?display_token={token}")
    print("Open this URL once on the screen; it signs the screen in and the token leaves the address bar. "
          "Running `display add` again for the same name revokes it.", file=sys.stderr)
    return 0


def _parse_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (example: 2026-11-01 or 2026-11-01T08:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    from dashboard.audit import read

    out = sys.stdout.buffer
    with _redis(config) as client:
        for rec in read(client, since=args.since, until=args.until):  # type: ignore[arg-type]
            if args.user and rec.user != args.user:
                continue
            if args.action and not rec.action.startswith(args.action):
                continue
            out.write(orjson.dumps(rec.to_dict()) + b"\n")
    return 0


# -- operator actions (dashboard.criminal_intel, dashboard.tlp, dashboard.outbound) ----------------------
def cmd_intel(args: argparse.Namespace, config: Config) -> int:
    """28 CFR Part 23: list or purge criminal-intelligence records past their review date."""
    from dashboard.criminal_intel import disseminations, purge, purge_candidates

    out = sys.stdout.buffer
    with _redis(config) as client:
        if args.intel_command == "purge":
            items = purge(client, dry_run=args.dry_run, actor=_cli_actor())  # type: ignore[arg-type]
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


@_account_command
def cmd_tlp(args: argparse.Namespace, config: Config) -> int:
    """Show or set the highest TLP label an account (person, screen, partner) may receive."""
    from dashboard.accounts import AccountStore
    from dashboard.audit import audit
    from dashboard.tlp import TLPError, max_marking, set_max_marking

    with _redis(config) as client:
        store = AccountStore(client)  # type: ignore[arg-type]
        if args.tlp_command == "show":
            for user in store.list():
                print(f"{user.name:<24} {user.role.value:<10} {max_marking(user, client).value}")  # type: ignore[arg-type]
            return 0
        try:
            marking = set_max_marking(client, args.name, None if args.label == "default" else args.label)  # type: ignore[arg-type]
        except TLPError as exc:
            print(f"watchfloor: tlp: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        audit("account.tlp", record=args.name, reason=f"maximum marking {marking.value}", user=_cli_actor(),
              source="cli", client=client)  # type: ignore[arg-type]
        print(f"{args.name} may now receive up to {marking.value}")
    return 0


@_account_command
def cmd_partner(args: argparse.Namespace, config: Config) -> int:
    """A partner agency's feed reader: a token account that reads only the Atom feed, up to its TLP."""
    from dashboard.accounts import AccountStore
    from dashboard.audit import audit
    from dashboard.tlp import TLPError, parse, set_max_marking
    from workers.streams import Keys

    try:
        marking = parse(args.tlp)
    except TLPError as exc:
        print(f"watchfloor: partner: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with _redis(config) as client:
        user, token = AccountStore(client).create_display(args.name)  # type: ignore[arg-type]
        client.hset(Keys.user(user.name), "partner", "1")  # type: ignore[attr-defined]
        set_max_marking(client, user.name, marking)  # type: ignore[arg-type]
        audit("account.partner", record=user.name, reason=f"partner feed token issued; up to {marking.value}",
              user=_cli_actor(), source="cli", client=client)  # type: ignore[arg-type]
    base = (args.url or f"http://{config.host}:{config.port}").rstrip("/")
    print(f"{base}/api/alerts.atom?display_token={token}")
    print("The partner's reader opens this URL once (it answers 303 with a session cookie and the feed URL), then "
          "polls /api/alerts.atom with that cookie. Running `partner add` again revokes the token.", file=sys.stderr)
    return 0


def cmd_outbound(args: argparse.Namespace, config: Config) -> int:
    """The RQ worker that sends webhook and e-mail copies of alerts (queue watchfloor-outbound)."""
    from dashboard.outbound import work
    from workers.connection import client_for

    work(config, client_for(config), burst=args.burst)
    return 0


def _load_learned_places(config: Config) -> None:
    """The places the feeds taught (workers/places.py), from the configured Redis or a running
    embedded one; none (and no Redis started) when neither answers."""
    from workers import places
    from workers.connection import connect, redis_url

    url = redis_url(config)
    if url:
        client = connect(url, timeout=2.0)
        try:
            places.refresh(client, max_age=0)  # logs and goes on when Redis does not answer
        finally:
            client.close()


def cmd_places(args: argparse.Namespace, config: Config) -> int:
    """Places learned from the feeds: list them (JSON Lines), or forget one a feed taught wrong."""
    from workers import places

    with _redis(config) as client:
        if args.places_command == "forget":
            from dashboard.audit import audit

            actor = _cli_actor()
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
    from dataclasses import asdict

    from feeds.geocode import country_code, geocode

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
    p = add("incidents", cmd_incidents, "print the fused incidents (one per happening, with its reports)")
    p.add_argument("--json", action="store_true", help="JSON Lines")
    inc_sub = p.add_subparsers(dest="incidents_command", required=False, metavar="ACTION")
    q = inc_sub.add_parser("split", help="take a report out of an incident for good")
    q.add_argument("incident")
    q.add_argument("event", help="the report's event id (see `watchfloor incidents --json`)")
    q = inc_sub.add_parser("merge", help="make two incidents one for good (the older id survives)")
    q.add_argument("a", metavar="INCIDENT")
    q.add_argument("b", metavar="INCIDENT")
    add("fuse", cmd_fuse, "run the fuser: reports to incidents (one active across hosts, others on standby)")
    add("health", cmd_health, "print feed health and the event count as JSON")
    add("settings", cmd_settings, "list every setting with its current value")

    user = add("user", cmd_user, "manage people's accounts (add, passwd, disable, enable, unlock, role, list)")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    for action, text in (("add", "add an account (asks for the password)"),
                         ("passwd", "set a new password; the account's sessions end"),
                         ("disable", "disable an account; its sessions end at once"),
                         ("enable", "enable a disabled account"),
                         ("unlock", "unlock an account locked after five failed sign-ins"),
                         ("role", "change an account's role; its sessions end")):
        p = user_sub.add_parser(action, help=text, description=text)
        p.add_argument("name")
        if action in ("add", "role"):
            p.add_argument("--role", required=True, help="viewer, operator, supervisor or admin")
        if action in ("add", "passwd"):
            p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
            p.add_argument("--must-change", action="store_true", help="the password must be changed at first sign-in")
    user_sub.add_parser("list", help="list accounts with role and flags")
    display = add("display", cmd_display, "manage display screens (wall displays that sign in with a token)")
    display_sub = display.add_subparsers(dest="display_command", required=True, metavar="ACTION")
    p = display_sub.add_parser("add", help="add a display screen (or issue it a new token) and print its URL")
    p.add_argument("name")
    p.add_argument("--page", default="/wall", help="page the screen opens (default /wall)")
    p.add_argument("--url", help="base URL users reach the app at (default http://HOST:PORT from the settings)")
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
    p = add("tlp", cmd_tlp, "the highest TLP label each account may receive")
    tlp_sub = p.add_subparsers(dest="tlp_command", required=True, metavar="ACTION")
    tlp_sub.add_parser("show", help="every account and its maximum marking")
    q = tlp_sub.add_parser("set", help="set an account's maximum marking (or `default` for its role's)")
    q.add_argument("name")
    q.add_argument("label", help="TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED or default")
    p = add("partner", cmd_partner, "partner agencies that poll the Atom feed of alerts")
    partner_sub = p.add_subparsers(dest="partner_command", required=True, metavar="ACTION")
    q = partner_sub.add_parser("add", help="add a partner (or issue it a new token) and print its feed URL")
    q.add_argument("name")
    q.add_argument("--tlp", default="TLP:CLEAR", help="highest label the partner receives (default TLP:CLEAR)")
    q.add_argument("--url", help="base URL partners reach the app at (default http://HOST:PORT)")
    p = add("outbound", cmd_outbound, "send webhook and e-mail copies of alerts")
    outbound_sub = p.add_subparsers(dest="outbound_command", required=True, metavar="ACTION")
    outbound_sub.add_parser("work", help="run the outbound RQ worker (with its retry scheduler)").add_argument(
        "--burst", action="store_true", help="exit when the queue is empty")
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
