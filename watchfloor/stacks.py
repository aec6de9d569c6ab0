"""Which Watchfloor stacks (``watchfloor up``) run on this host for this account, and where.

``up`` records itself in ``<data_dir>/stack.json`` (its web URL: what ``display add`` prints) and in a
per-account registry (``$XDG_RUNTIME_DIR/watchfloor`` or ``~/.local/state/watchfloor/stacks``, 0700),
so a CLI command run with another data directory finds the running stack, or says where it is,
instead of silently starting a second, empty store.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from domain.store.connection import runtime_dir
from watchfloor.redis_server import write_private


def _entry(data_dir: Path) -> Path:
    return runtime_dir() / (hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16] + ".json")


def record_running(data_dir: Path, web_url: str) -> None:
    info = {"data_dir": str(data_dir.resolve()), "web_url": web_url, "pid": os.getpid()}
    text = orjson.dumps(info).decode()
    write_private(data_dir / "stack.json", text)
    write_private(_entry(data_dir), text)


def clear_running(data_dir: Path) -> None:
    for path in (data_dir / "stack.json", _entry(data_dir)):
        try:
            if orjson.loads(path.read_bytes()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def stack_at(data_dir: Path) -> dict[str, Any] | None:
    """The running stack that serves ``data_dir``, if any."""
    try:
        info = orjson.loads((data_dir / "stack.json").read_bytes())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and _alive(info.get("pid")) else None


def running_stacks() -> list[dict[str, Any]]:
    """Every stack this account runs on this host (entries of stopped ones are skipped)."""
    out = []
    for path in sorted(p for p in runtime_dir().glob("*.json") if not p.name.endswith("store-status.json")):
        try:
            info = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and _alive(info.get("pid")):
            out.append(info)
    return out
