"""Entry point for ASGI servers: ``uvicorn app:server`` (or ``python app.py`` for one process).

The app is built by the factory in dashboard.app; configuration comes from the environment and
the config file (see README, Configuration)."""

from dashboard import create_app

app = create_app()
server = app.server

if __name__ == "__main__":
    from watchfloor.cli import main

    raise SystemExit(main(["web"]))
