"""What every command group shares: the exit status for bad input, the store a command talks to."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from domain.config.loader import Config
from domain.store.connection import connect, redis_url
from watchfloor.redis_server import EmbeddedRedis, maxmemory_for, secure_dir

EXIT_BAD_INPUT = 2

# add(name, run, help) -> the command's parser: how a command group registers its commands.
AddCommand = Callable[[str, Callable[[argparse.Namespace, Config], int], str], argparse.ArgumentParser]


@contextmanager
def store_client(config: Config) -> Iterator[object]:
    """The configured Redis, or the running embedded one; else an embedded one for this command."""
    url = redis_url(config)
    if url:
        client = connect(url)
        yield client
        client.close()
        return
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
