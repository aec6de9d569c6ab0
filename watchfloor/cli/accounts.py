"""People, screens and partners: ``user``, ``display``, ``tlp``, ``partner``."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from domain.access.accounts import AccountError, AccountStore, Role, WeakPassword, check_name
from domain.access.audit import audit
from domain.access.keys import AccountKeys
from domain.access.tlp import TLPError, max_marking, parse, set_max_marking
from domain.agencies.members import HOST, set_agency
from domain.agencies.store import AgencyError, AgencyStore, UnknownAgency
from domain.config.loader import Config
from watchfloor.cli.common import EXIT_BAD_INPUT, AddCommand, cli_actor, store_client, web_base


def _read_new_password(args: argparse.Namespace) -> str:
    """From stdin (--password-stdin, one line) or prompted twice on the terminal; never an argument."""

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
        try:
            return run(args, config)
        except (AccountError, AgencyError, UnknownAgency) as exc:
            print(f"watchfloor: {args.command}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapped


@_account_command
def cmd_user(args: argparse.Namespace, config: Config) -> int:
    actor = cli_actor()
    with store_client(config) as client:
        store = AccountStore(client)  # type: ignore[arg-type]

        def record(action: str, name: str, reason: str = "") -> None:
            audit(action, record=name, reason=reason, user=actor, source="cli", client=client)  # type: ignore[arg-type]

        if args.user_command == "list":
            for user in store.list():
                flags = [f for f, on in (("disabled", user.disabled), ("locked", user.locked),
                                         ("must-change-password", user.must_change_password)) if on]
                flags += [f"agency:{user.agency}"] if user.agency else []
                print(f"{user.name:<24} {user.role.value:<10} {' '.join(flags)}".rstrip())
            return 0
        name = args.name
        if args.user_command == "add":
            role = Role.parse(args.role)
            if role is Role.DISPLAY:
                print("watchfloor: user add: display screens are added with `watchfloor display add NAME`",
                      file=sys.stderr)
                return EXIT_BAD_INPUT

            check_name(name)
            agency = AgencyStore(client).require(args.agency).code if args.agency else None  # type: ignore[arg-type]
            store.create(name, role, _read_new_password(args), must_change=args.must_change)
            if agency:
                set_agency(client, name, agency)  # type: ignore[arg-type]
            record("account.create", name, f"role {role.value}; agency {agency or HOST}")
            print(f"added {name} ({role.value}, {agency or HOST})")
        elif args.user_command == "agency":
            user = set_agency(client, name, args.code)  # type: ignore[arg-type]
            record("account.agency", name, f"member of {user.agency or HOST}")
            print(f"{name} is now a member of {user.agency or 'the ' + HOST}")
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
    with store_client(config) as client:
        code = getattr(args, "agency", None)  # (partner add shares this path; partners have no agency)
        agency = AgencyStore(client).require(code).code if code else None  # type: ignore[arg-type]
        user, token = AccountStore(client).create_display(args.name)  # type: ignore[arg-type]
        if agency:
            set_agency(client, user.name, agency)  # type: ignore[arg-type]
        audit("account.display", record=user.name, reason="display token issued; any earlier token revoked",
              user=cli_actor(), source="cli", client=client)  # type: ignore[arg-type]
    base = web_base(config, args.url)
    page = "/" + args.page.lstrip("/")
    print(f"{base}{page}?display_token={token}")
    print("Open this URL once on the screen; it signs the screen in and the token leaves the address bar. "
          "Running `display add` again for the same name revokes it.", file=sys.stderr)
    return 0


@_account_command
def cmd_tlp(args: argparse.Namespace, config: Config) -> int:
    """Show or set the highest TLP label an account (person, screen, partner) may receive."""

    with store_client(config) as client:
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
        audit("account.tlp", record=args.name, reason=f"maximum marking {marking.value}", user=cli_actor(),
              source="cli", client=client)  # type: ignore[arg-type]
        print(f"{args.name} may now receive up to {marking.value}")
    return 0


@_account_command
def cmd_partner(args: argparse.Namespace, config: Config) -> int:
    """A partner agency's feed reader: a token account that reads only the Atom feed, up to its TLP."""

    try:
        marking = parse(args.tlp)
    except TLPError as exc:
        print(f"watchfloor: partner: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with store_client(config) as client:
        code = getattr(args, "agency", None)  # (partner add shares this path; partners have no agency)
        agency = AgencyStore(client).require(code).code if code else None  # type: ignore[arg-type]
        user, token = AccountStore(client).create_display(args.name)  # type: ignore[arg-type]
        if agency:
            set_agency(client, user.name, agency)  # type: ignore[arg-type]
        client.hset(AccountKeys.user(user.name), "partner", "1")  # type: ignore[attr-defined]
        set_max_marking(client, user.name, marking)  # type: ignore[arg-type]
        audit("account.partner", record=user.name, reason=f"partner feed token issued; up to {marking.value}",
              user=cli_actor(), source="cli", client=client)  # type: ignore[arg-type]
    base = web_base(config, args.url)
    print(f"{base}/api/alerts.atom?display_token={token}")
    print("The partner's reader opens this URL once (it answers 303 with a session cookie and the feed URL), then "
          "polls /api/alerts.atom with that cookie. Running `partner add` again revokes the token.", file=sys.stderr)
    return 0



def register(add: AddCommand) -> None:
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
        if action == "add":
            p.add_argument("--agency", help="the agency the person belongs to (default: the host fusion center)")
        if action in ("add", "passwd"):
            p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
            p.add_argument("--must-change", action="store_true", help="the password must be changed at first sign-in")
    p = user_sub.add_parser("agency", help="make a person or screen a member of an agency (none: the host center)")
    p.add_argument("name")
    p.add_argument("code", help="the agency's code, or none for the host fusion center")
    user_sub.add_parser("list", help="list accounts with role, agency and flags")
    display = add("display", cmd_display, "manage display screens (wall displays that sign in with a token)")
    display_sub = display.add_subparsers(dest="display_command", required=True, metavar="ACTION")
    p = display_sub.add_parser("add", help="add a display screen (or issue it a new token) and print its URL")
    p.add_argument("name")
    p.add_argument("--agency", help="the agency the screen belongs to (default: the host fusion center)")
    p.add_argument("--page", default="/wall", help="page the screen opens (default /wall)")
    p.add_argument("--url", help="base URL users reach the app at (default http://HOST:PORT from the settings)")
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
