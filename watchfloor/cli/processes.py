"""The processes of the live picture: ``up`` (all of them), ``web``, ``worker``, ``cron``, ``fuse``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket

from domain.config.loader import Config, config_path
from domain.store.connection import client_for
from watchfloor.cli.common import AddCommand
from watchfloor.supervisor import WEB_FD_ENV, run_up
from workers.fusion import Fuser
from workers.retention import Retention
from workers.schedule import run_cron, run_worker


def cmd_up(args: argparse.Namespace, config: Config) -> int:
    if args.ha:  # the setting, for this run (children read it from the environment)
        config = dataclasses.replace(config, values={**config.values, "redis_ha": True})
    if args.web_processes is not None:
        config.values["web_processes"] = args.web_processes  # the command line over the file and environment
    return run_up(config, str(config_path(args.config)))


def _web_processes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of web processes from 1 to 64")
    return int(text)


# Seconds an idle keep-alive connection stays open (uvicorn's default is 5): longer than a screen's
# 5 s panels tick, so hundreds of screens do not open a new connection for every tick (nginx: 75 s).
KEEP_ALIVE = 75


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    """One web process: on the socket `watchfloor up` holds (WATCHFLOOR_WEB_FD), else on host:port.
    Run it on several hosts against one Redis behind a reverse proxy (README, "Several web processes")."""
    import uvicorn

    # lazy: Dash and plotly load in the web process only, never in a worker or a CLI command
    from dashboard import create_app

    app = create_app(config)
    fd = os.environ.pop(WEB_FD_ENV, "")
    if fd.isdigit():
        server = uvicorn.Server(uvicorn.Config(app.server, log_level="warning", proxy_headers=False,
                                               timeout_keep_alive=KEEP_ALIVE))
        server.run(sockets=[socket.socket(fileno=int(fd))])
        return 0
    uvicorn.run(app.server, host=str(config.host), port=int(config.port), log_level="warning", proxy_headers=False,
                timeout_keep_alive=KEEP_ALIVE)
    return 0


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    run_worker(config, client_for(config), burst=args.burst)
    return 0


def cmd_cron(args: argparse.Namespace, config: Config) -> int:
    run_cron(config, client_for(config))
    return 0


def cmd_fuse(args: argparse.Namespace, config: Config) -> int:
    """The fuser process (one active across hosts; others wait as standbys). SIGTERM stops it cleanly."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fuser = Fuser(client_for(config), window_hours=float(config.fusion_window_hours),
                  lock_ttl=float(config.fusion_lock_seconds), retention=Retention.from_config(config))
    try:
        fuser.run(stop)
    except KeyboardInterrupt:
        pass
    return 0



def register(add: AddCommand) -> None:
    up = add("up", cmd_up, "start the whole live picture (what `make run` does)")
    up.add_argument(
        "--ha", action="store_true", help="store on a primary, a replica and three sentinels (Redis Sentinel) on this "
                                          "machine, to try failover (setting redis_ha)")
    up.add_argument(
        "--web-processes", type=_web_processes, default=None, metavar="N",
        help="web app processes sharing the one port (default: the web_processes setting, 1)")
    add("web", cmd_web, "run the web app only")
    add("worker", cmd_worker, "run one RQ worker").add_argument("--burst", action="store_true", help="exit when the queue is empty")
    add("cron", cmd_cron, "run the RQ cron scheduler that enqueues feed polls")
    add("fuse", cmd_fuse, "run the fuser: reports to incidents (one active across hosts, others on standby)")
