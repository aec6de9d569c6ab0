"""The processes of the live picture: ``up`` (all of them), ``web``, ``worker``, ``cron``, ``fuse``."""

from __future__ import annotations

import argparse
import dataclasses

from domain.config.loader import Config, config_path
from domain.store.connection import client_for
from watchfloor.cli.common import AddCommand
from watchfloor.supervisor import run_up
from workers.fusion import Fuser
from workers.retention import Retention
from workers.schedule import run_cron, run_worker


def cmd_up(args: argparse.Namespace, config: Config) -> int:
    if args.ha:  # the setting, for this run (children read it from the environment)
        config = dataclasses.replace(config, values={**config.values, "redis_ha": True})
    return run_up(config, str(config_path(args.config)))


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    import uvicorn

    # lazy: Dash and plotly load in the web process only, never in a worker or a CLI command
    from dashboard import create_app

    app = create_app(config)
    uvicorn.run(app.server, host=str(config.host), port=int(config.port), log_level="warning", proxy_headers=False)
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
    add("up", cmd_up, "start the whole live picture (what `make run` does)").add_argument(
        "--ha", action="store_true", help="store on a primary, a replica and three sentinels (Redis Sentinel) on this "
                                          "machine, to try failover (setting redis_ha)")
    add("web", cmd_web, "run the web app only")
    add("worker", cmd_worker, "run one RQ worker").add_argument("--burst", action="store_true", help="exit when the queue is empty")
    add("cron", cmd_cron, "run the RQ cron scheduler that enqueues feed polls")
    add("fuse", cmd_fuse, "run the fuser: reports to incidents (one active across hosts, others on standby)")
