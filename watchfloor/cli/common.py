"""What every command group shares: the exit status for bad input, the store a command talks to."""

from __future__ import annotations

import argparse
import getpass
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from domain.agencies.access import Reader
from domain.agencies.store import AgencyStore
from domain.config.loader import Config, ConfigError
from domain.store.connection import connect, redis_url
from watchfloor.redis_server import EmbeddedRedis, maxmemory_for, secure_dir
from watchfloor.stacks import running_stacks, stack_at


def web_base(config: Config, given: str | None) -> str:
    """The base URL people reach the app at: ``--url``, else the running stack's (its real port),
    else the settings'."""
    if given:
        return given.rstrip("/")
    stack = stack_at(config.data_path)
    if stack and stack.get("web_url"):
        return str(stack["web_url"]).rstrip("/")
    host = str(config.host)
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{host}:{config.port}"

EXIT_BAD_INPUT = 2

# add(name, run, help) -> the command's parser: how a command group registers its commands.
AddCommand = Callable[[str, Callable[[argparse.Namespace, Config], int], str], argparse.ArgumentParser]


@contextmanager
def store_client(config: Config) -> Iterator[object]:
    """The configured Redis, or the running embedded one; else, when no stack runs at all, an embedded
    one for this command. A stack running with another data directory is named, never ignored."""
    url = redis_url(config)
    if url:
        client = connect(url)
        yield client
        client.close()
        return
    others = [s for s in running_stacks() if s.get("data_dir") != str(config.data_path)]
    if others:  # a stack runs, elsewhere: starting a second, empty store here would hide it
        where = others[0]["data_dir"]
        raise ConfigError(f"data_dir: no Watchfloor runs with data_dir {config.data_path}, but one runs with "
                          f"data_dir {where}; set WATCHFLOOR_DATA_DIR={where} (or REDIS_URL) to use it")
    secure_dir(config.data_path)
    with EmbeddedRedis(config.data_path / "redis", maxmemory=maxmemory_for(int(config.redis_maxmemory_mb))) as server:
        client = connect(server.url)
        yield client
        client.close()

def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def recipient_reader(client: object, ceiling: object, agency: str | None) -> object:
    """Who a product is for: a TLP ceiling (the host center's partners: what is shared with all), or
    with ``agency`` a member of that agency (its own and listed items too), capped by the agency's
    ceiling. An unknown agency is one line naming `watchfloor agency list`."""
    if not agency:
        return ceiling
    record = AgencyStore(client).require(agency)
    return Reader(min(ceiling, record.tlp, key=lambda m: m.rank), record.code)  # as max_marking caps a member
