"""The service definitions in deploy/ run real `watchfloor` commands (no container engine here to
build the image: docs/deploy.md says so)."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from watchfloor.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def is_command(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_every_compose_service_runs_a_real_command_against_a_password_protected_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "web", "worker", "cron", "fuser", "outbound"} <= set(services)
    for name, service in services.items():
        if name == "redis":
            continue
        assert is_command(service["command"]), (name, service["command"])
        assert "@redis:6379" in service["environment"]["REDIS_URL"] and "${REDIS_PASSWORD" in \
            service["environment"]["REDIS_URL"]
    redis_command = " ".join(services["redis"]["command"])
    for required in ("--appendonly yes", "noeviction", "--maxmemory", "default off", "-@admin"):
        assert required in redis_command, required
    assert services["web"]["ports"] == ["127.0.0.1:8050:8050"]  # behind a TLS proxy, never open by itself
    assert not is_command(["no-such-command"])  # the check can fail


def test_the_systemd_unit_starts_a_real_command_hardened() -> None:
    unit = dict(line.split("=", 1) for line in (DEPLOY / "watchfloor.service").read_text().splitlines()
                if "=" in line and not line.startswith("#"))
    argv = shlex.split(unit["ExecStart"])
    assert argv[0].endswith("/watchfloor") and is_command(argv[1:])
    assert unit["User"] == "watchfloor" and unit["UMask"] == "0077" and unit["NoNewPrivileges"] == "true"
    assert unit["ProtectSystem"] == "strict"


def test_the_image_runs_as_its_own_account_and_a_real_default_command() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    assert any(line.startswith("USER watchfloor") for line in lines)
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert is_command(yaml.safe_load(cmd[4:]))


def test_install_says_what_each_step_is_doing() -> None:
    import subprocess

    root = DEPLOY.parent
    dry = subprocess.run(["make", "-n", "-B", "install"], cwd=root, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    steps = [line for line in dry.stdout.splitlines() if line.startswith("echo \"==> ")]
    assert [s.split("]")[0][-4:] for s in steps if "[" in s] == ["[1/5", "[2/5", "[3/5", "[4/5", "[5/5"]
    assert any("Installed" in s for s in steps)
