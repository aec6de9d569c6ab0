"""Start the whole stack (`watchfloor up`) as a user would, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from watchfloor.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    url: str
    exercise_url: str
    data_dir: Path
    log_path: Path

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + "api/health", timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def inject(self, fields: dict) -> dict:
        req = urllib.request.Request(self.exercise_url + "/inject", data=json.dumps(fields).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def add_user(self, name: str, role: str, password: str) -> None:
        """Create an account through the real CLI, against this stack's Redis."""
        env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(self.data_dir), "REDIS_URL": ""}
        result = subprocess.run([sys.executable, "-m", "watchfloor.cli", "user", "add", name, "--role", role,
                                 "--password-stdin"], input=password + "\n", text=True, capture_output=True,
                                cwd=ROOT, env=env, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"user add failed: {result.stderr.strip()}")

    def sign_in(self, page, name: str, password: str, path: str = "") -> None:
        """Sign in through the login form, as a person would, then open ``path``."""
        page.goto(self.url + "login?next=/" + path.lstrip("/"))
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_stack(tmp: Path, *, env: dict[str, str] | None = None, timeout: float = 90) -> Stack:
    port, ex_port = free_port(), free_port()
    log_path = tmp / "stack.log"
    full_env = {
        **os.environ,
        "PORT": str(port),
        "WATCHFLOOR_EXERCISE_PORT": str(ex_port),
        "WATCHFLOOR_DATA_DIR": str(tmp / "var"),
        "WATCHFLOOR_REFRESH_MS": "1000",
        "WATCHFLOOR_WORKERS": "1",
        "REDIS_URL": "",
        **(env or {}),
    }
    full_env.pop("WATCHFLOOR_CONFIG", None) if "WATCHFLOOR_CONFIG" not in (env or {}) else None
    process = subprocess.Popen(
        [sys.executable, "-m", "watchfloor.cli", "up"], cwd=ROOT, env=full_env,
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    stack = Stack(process, f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{ex_port}", tmp / "var", log_path)
    return wait_healthy(stack, "watchfloor up", timeout)


def wait_healthy(stack: Stack, what: str, timeout: float = 90) -> Stack:
    """``stack`` once its /api/health answers 200; stopped, with a RuntimeError naming ``what`` and
    its log, when it exits first or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(f"{what} exited with {stack.process.returncode}:\n{stack.log()}")
        try:
            status, _ = stack.health()
            if status == 200:
                return stack
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    stack.stop()
    raise RuntimeError(f"{what} did not answer /api/health within {timeout}s:\n{stack.log()}")
