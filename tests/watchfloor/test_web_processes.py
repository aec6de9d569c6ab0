"""Several web processes on one Redis: behind a real nginx (deploy/nginx/watchfloor-proxy.conf, the
shipped directives) a desk in real Chromium keeps updating, through its push stream, while one web
process is killed, and its session holds; `watchfloor up --web-processes 2` keeps answering on its
one port while one of its web processes is killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
import redis

from domain.store.streams import EventStore
from feeds.model import Event, Kind, Severity
from tests.stack import ROOT, Stack, start_stack, wait_healthy
from watchfloor.redis_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

PASSWORD = "proxy passphrase 42"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# Push only: screens poll once a minute, so an update within seconds came through the push stream.
WEB_ENV = {"WATCHFLOOR_REFRESH_MS": "60000", "WATCHFLOOR_STALE_SECONDS": "600",
           "WATCHFLOOR_TRUSTED_PROXIES": "127.0.0.1", "WATCHFLOOR_EXERCISE": "false"}


def web_process(stack: Stack, tmp: Path, port: int, name: str) -> Stack:
    """One `watchfloor web` on ``port`` against the stack's Redis, as on another host."""
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    env = {**os.environ, "PORT": str(port), "REDIS_URL": url, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), **WEB_ENV}
    env.pop("WATCHFLOOR_CONFIG", None)
    log_path = tmp / f"{name}.log"
    process = subprocess.Popen([sys.executable, "-m", "watchfloor.cli", "web"], cwd=ROOT, env=env,
                               stdout=log_path.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return wait_healthy(Stack(process, f"http://127.0.0.1:{port}/", "", stack.data_dir, log_path), name)


def start_nginx(tmp: Path, port: int, upstreams: list[int]) -> subprocess.Popen[bytes]:
    """nginx in the foreground with the shipped proxy directives in front of ``upstreams``."""
    conf = tmp / "nginx"
    conf.mkdir(exist_ok=True)
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in upstreams)
    (conf / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {conf}/nginx.pid;
error_log {conf}/error.log info;
events {{ worker_connections 1024; }}
http {{
  access_log {conf}/access.log;
  client_body_temp_path {conf}/body; proxy_temp_path {conf}/proxy; fastcgi_temp_path {conf}/fastcgi;
  uwsgi_temp_path {conf}/uwsgi; scgi_temp_path {conf}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  upstream watchfloor_web {{
{servers}    keepalive 8;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ include {ROOT}/deploy/nginx/watchfloor-proxy.conf; }}
  }}
}}
""", encoding="utf-8")
    process = subprocess.Popen([NGINX, "-c", str(conf / "nginx.conf"), "-p", str(conf), "-g", "daemon off;"],
                               stdout=(conf / "out.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as resp:
                if resp.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"nginx did not answer: {(conf / 'error.log').read_text()[-2000:]}")


PLACES = [(60.17, 24.94, "Helsinki"), (48.85, 2.35, "Paris")]  # far apart: two incidents, never one


def add_incident(stack: Stack, title: str, round_: int) -> None:
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    EventStore(redis.Redis.from_url(url)).append([Event(
        id=f"proxy:{title}", source="proxy-test", kind=Kind.EARTHQUAKE, title=title, time=datetime.now(UTC),
        severity=Severity.SEVERE, lat=PLACES[round_][0], lon=PLACES[round_][1], magnitude=5.5, depth_km=10.0,
        feed="proxy-test", exercise=True, place=PLACES[round_][2])])


SESSION_OK = "async () => (await fetch('/api/session', {headers: {'X-Watchfloor-Background': '1'}})).status"


@pytest.mark.browser
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make proxy installs Debian's)")
def test_a_desk_behind_nginx_keeps_updating_while_a_web_process_is_killed(tmp_path, browser):
    stack = start_stack(tmp_path, env={"WATCHFLOOR_EXERCISE": "false"})
    ports = [free_port(), free_port()]
    webs = [web_process(stack, tmp_path, p, f"web-{i + 1}") for i, p in enumerate(ports)]
    proxy_port = free_port()
    nginx = start_nginx(tmp_path, proxy_port, ports)
    try:
        stack.add_user("officer", "operator", PASSWORD)
        front = Stack(nginx, f"http://127.0.0.1:{proxy_port}/", "", stack.data_dir, tmp_path / "nginx" / "error.log")
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        front.sign_in(page, "officer", PASSWORD)
        page.wait_for_selector(".wf-desk .wf-conn-live", timeout=60_000)
        page.wait_for_timeout(3000)  # the push stream is open
        # Kill each web process in turn (restarting the first before killing the second), so the
        # one holding the desk's push stream is killed whichever nginx chose.
        for round_, victim in enumerate([0, 1]):
            webs[victim].process.send_signal(signal.SIGKILL)
            webs[victim].process.wait(timeout=10)
            title = f"EXERCISE proxy round {round_} quake"
            add_incident(stack, title, round_)
            page.wait_for_selector(f".wf-desk .wf-incidents li:has-text('{title}')", timeout=45_000)
            assert "/login" not in page.url
            # The change came on the push stream, which may be nginx's first request to the process
            # restarted in round 0: for that request's fail_timeout nginx counts the process as down,
            # and with the other just killed it answers 502 ("no live upstreams") for up to 2 s. A
            # 502 is the proxy; a 401 would be the session lost.
            statuses = [page.evaluate(SESSION_OK)]
            deadline = time.monotonic() + 10
            while statuses[-1] == 502 and time.monotonic() < deadline:
                page.wait_for_timeout(500)
                statuses.append(page.evaluate(SESSION_OK))
            assert statuses[-1] == 200 and 401 not in statuses, f"the session must hold on the surviving web process: {statuses}"
            assert page.locator(".wf-desk .wf-conn-live").count() == 1, page.locator(".wf-desk .wf-conn").inner_text()
            if round_ == 0:
                page.screenshot(path=str(ROOT / "test-artifacts" / "desk-behind-nginx-after-kill.png"))
                webs[victim] = web_process(stack, tmp_path, ports[victim], f"web-{victim + 1}-again")
                time.sleep(3)  # nginx's fail_timeout: the restarted process takes requests again
        assert not errors, errors
        page.close()
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        for web in webs:
            web.stop()
        stack.stop()


def test_up_with_two_web_processes_answers_while_one_is_killed(tmp_path):
    stack = start_stack(tmp_path, env={"WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_WEB_PROCESSES": "2"})
    try:
        webs = [p for p in psutil.Process(stack.process.pid).children() if p.cmdline()[-1:] == ["web"]]
        assert len(webs) == 2, [p.cmdline() for p in psutil.Process(stack.process.pid).children()]
        webs[0].kill()
        statuses = []
        for _ in range(40):
            status, _ = stack.health()
            statuses.append(status)
            time.sleep(0.05)
        assert statuses.count(200) == len(statuses), statuses
        deadline = time.monotonic() + 30  # the supervisor starts another in its place
        while time.monotonic() < deadline:
            alive = [p for p in psutil.Process(stack.process.pid).children() if p.is_running()
                     and p.status() != psutil.STATUS_ZOMBIE and p.cmdline()[-1:] == ["web"]]
            if len(alive) == 2:
                break
            time.sleep(0.5)
        assert len(alive) == 2
    finally:
        stack.stop()
