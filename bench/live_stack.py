"""What the screen benchmarks share: the whole stack as `watchfloor up` runs it (tests/stack.py),
headless Chromium, a signed-in HTTP session without a browser, and the small statistics they print.

Nothing here changes the app: the benchmarks drive it from outside, over loopback, as screens do.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import redis

from tests.stack import ROOT, Stack, start_stack

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ROOT",
    "Stack",
    "chromium_processes",
    "display_url",
    "http_session_cookie",
    "least_squares_slope",
    "percentile",
    "redis_client",
    "start_stack",
    "web_process",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-precise-memory-info",
]


def redis_client(stack: Stack) -> redis.Redis:
    """A client on the stack's own embedded Redis (its URL is written to <data_dir>/redis/redis.url)."""
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    return redis.Redis.from_url(url)


def web_process(stack: Stack) -> Any:
    """The uvicorn child of `watchfloor up` (the process whose command line ends with "web")."""
    import psutil

    for child in psutil.Process(stack.process.pid).children(recursive=True):
        try:
            if child.cmdline()[-1:] == ["web"]:
                return child
        except psutil.Error:
            continue
    raise RuntimeError("no web process under watchfloor up")


def chromium_processes(root_pid: int | None = None) -> list[Any]:
    """Every Chromium process started (through Playwright's driver) by this Python process."""
    import psutil

    root = psutil.Process(root_pid or os.getpid())
    found = []
    for proc in root.children(recursive=True):
        try:
            if "chrom" in proc.name().lower() or (proc.exe() or "").startswith("/usr/lib/chromium"):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def http_session_cookie(stack: Stack, name: str, password: str) -> str:
    """Sign in once through the real form (GET /login sets the anti-forgery cookie, POST /login
    checks it) and return the "Cookie" header value that carries the new session."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(stack.url + "login", timeout=10) as resp:
        page = resp.read().decode()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    if not match:
        raise RuntimeError("the sign-in form carries no csrf token")
    form = urllib.parse.urlencode({"csrf": match.group(1), "next": "/", "username": name, "password": password})
    req = urllib.request.Request(stack.url + "login", data=form.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "Origin": stack.url.rstrip("/")})
    with opener.open(req, timeout=10) as resp:
        resp.read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    with opener.open(urllib.request.Request(stack.url + "api/session", headers={"Cookie": cookies}), timeout=10) as resp:
        if resp.status != 200:
            raise RuntimeError(f"sign-in did not give a session (api/session {resp.status})")
    return cookies


def display_url(stack: Stack, name: str, page: str = "/wall") -> str:
    """A display screen account through the real CLI; returns the one-time sign-in URL."""
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""}
    result = subprocess.run([sys.executable, "-m", "watchfloor.cli", "display", "add", name, "--page", page,
                             "--url", stack.url.rstrip("/")], text=True, capture_output=True, cwd=ROOT, env=env,
                            timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"display add failed: {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1]


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (pct in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1] if 1 <= pct <= 99 else (
        min(values) if pct <= 0 else max(values))


def least_squares_slope(xs: list[float], ys: list[float]) -> float:
    """Slope of the least-squares line through (xs, ys); NaN with fewer than two points."""
    if len(xs) < 2:
        return float("nan")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else float("nan")


def repo_state() -> dict[str, Any]:
    """The commit measured and whether the working tree had uncommitted changes (read-only git)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True, timeout=10).stdout
        except OSError:
            return ""

    status = git("--no-optional-locks", "status", "--porcelain")  # read-only: no index refresh
    return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(status.strip()),
            "dirty_files": [line[3:] for line in status.splitlines() if line.strip()][:30]}


def tmp_root() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="wf-bench-"))
