"""Configuration: every setting documented, bad values named with the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.config.loader import ConfigError, load_config
from domain.config.settings import SETTINGS
from watchfloor.cli import main

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wf.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme or f"`{s.env}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_builtin_config_loads_with_exercise_and_public_feeds():
    config = load_config(env={})
    ids = {f.id for f in config.feeds}
    assert {"exercise-quakes", "exercise-cap", "exercise-news", "usgs-all-hour", "nws-alerts", "gdacs"} <= ids
    assert config.port == 8050


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, "[watchfloor]\nport = 9000\n")
    assert load_config(path, env={}).port == 9000
    assert load_config(path, env={"PORT": "9100"}).port == 9100


@pytest.mark.parametrize(
    ("text", "env", "words"),
    [
        ("[watchfloor]\nprot = 1\n", {}, ["watchfloor.prot", "watchfloor settings"]),
        ("[watchfloor]\nport = 'abc'\n", {}, ["watchfloor.port", "not a int"]),
        ("[watchfloor]\nport = 70000\n", {}, ["watchfloor.port", "maximum"]),
        ("", {"REDIS_URL": "http://x"}, ["REDIS_URL", "redis://"]),
        ("[[feeds]]\nid = 'a'\nurl = 'ftp://x/y'\n", {}, ["feeds.a.url", "http(s)"]),
        ("[[feeds]]\nid = 'a'\nurl = 'https://x/y'\ninterval = 1\n", {}, ["feeds.a.interval", "between 5"]),
        ("[[feeds]]\nid = 'a'\nurl = 'https://x/y'\ncolour = 1\n", {}, ["feeds.a", "unknown key 'colour'"]),
        ("[[feeds]]\nid = 'a'\nurl = 'https://x/'\n[[feeds]]\nid = 'a'\nurl = 'https://y/'\n", {}, ["feeds.a", "twice"]),
        ("[watchfloor\n", {}, ["not valid TOML"]),
        ("[watchfloor]\nevents_retention_days = 'a month'\n", {}, ["watchfloor.events_retention_days", "not a float"]),
        ("", {"WATCHFLOOR_EVENTS_RETENTION_DAYS": "30d"}, ["WATCHFLOOR_EVENTS_RETENTION_DAYS", "not a float"]),
        ("[watchfloor]\nevents_retention_days = -1\n", {}, ["watchfloor.events_retention_days", "minimum"]),
        ("[watchfloor]\nincident_max_age_days = 'never'\n", {}, ["watchfloor.incident_max_age_days", "not a float"]),
    ],
)
def test_bad_config_names_the_key_and_the_fix(tmp_path, text, env, words):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env=env)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_cli_reports_bad_config_in_one_line_without_traceback(tmp_path, capsys):
    path = write(tmp_path, "[watchfloor]\nport = -1\n")
    assert main(["--config", str(path), "settings"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.fullmatch(r"watchfloor: configuration error: .*watchfloor\.port.*\n", err)


def test_cli_parse_refuses_missing_file_in_one_line(capsys, tmp_path):
    assert main(["parse", str(tmp_path / "nope.xml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err


def test_cli_parse_refuses_non_http_urls(capsys):
    assert main(["parse", "file:///etc/passwd"]) == 2
    assert "only http(s)" in capsys.readouterr().err


def test_a_feed_marking_must_be_a_tlp_label(tmp_path):
    bad = tmp_path / "w.toml"
    bad.write_text('[[feeds]]\nid = "partner"\nurl = "https://partner.example/feed"\ntlp = "AMBER"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad, env={})
    assert "feeds.partner.tlp" in str(err.value) and "TLP:AMBER+STRICT" in str(err.value)
    bad.write_text('[[feeds]]\nid = "partner"\nurl = "https://partner.example/feed"\ntlp = "TLP:AMBER"\n')
    assert load_config(bad, env={}).feeds[0].tlp == "TLP:AMBER"


def test_a_feed_country_hint_must_be_an_iso_code(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('[[feeds]]\nid = "qfes"\nurl = "https://qfes.example/feed"\ncountry = "Queensland"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "feeds.qfes.country" in str(err.value) and "AU-QLD" in str(err.value)
    path.write_text('[[feeds]]\nid = "qfes"\nurl = "https://qfes.example/feed"\ncountry = "AU-QLD"\n')
    assert load_config(path, env={}).feeds[0].country == "AU-QLD"


def test_teaches_places_must_be_true_or_false(tmp_path):
    bad = tmp_path / "watchfloor.toml"
    bad.write_text('[[feeds]]\nid = "partner"\nurl = "https://partner.example/feed"\nteaches_places = "no"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad, env={})
    assert "feeds.partner.teaches_places" in str(err.value) and "true or false" in str(err.value)
    bad.write_text('[[feeds]]\nid = "partner"\nurl = "https://partner.example/feed"\nteaches_places = false\n')
    assert load_config(bad, env={}).feeds[0].teaches_places is False
