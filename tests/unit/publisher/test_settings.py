"""Options: flags over IFPULSE_* over the config file; secrets never on argv; a readable --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.cli import OPTIONS, build_parser, main
from publisher.mqtt import Backoff, BrokerAddress, parse_broker_url
from publisher.settings import PublisherSettings, default_spool_path, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("IFPULSE_"):
            monkeypatch.delenv(key)


def flags(*argv: str) -> dict[str, object]:
    return vars(build_parser().parse_args(list(argv)))


def test_defaults() -> None:
    s = PublisherSettings()
    assert s.broker == "mqtt://localhost:1883"
    assert s.interval == 10.0 and s.exclude == ["lo"] and s.include == []
    assert s.proc_root == Path("/proc") and s.sys_root == Path("/sys")
    assert s.topic_prefix == "ifpulse" and not s.once
    assert s.mqtt_client_id == f"ifpulse-pub-{s.host_id}"


def test_default_spool_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_spool_path() == tmp_path / "ifpulse" / "spool.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_spool_path() == tmp_path / ".local" / "state" / "ifpulse" / "spool.db"


def test_flags_beat_env_beat_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "publish.toml"
    config.write_text(
        'broker = "mqtt://file:1883"\ninterval = 30\nhost_id = "from-file"\n'
        'proc_root = "/host/proc"\ninclude = ["eth*", "wlan*"]\n'
    )
    monkeypatch.setenv("IFPULSE_INTERVAL", "5")
    monkeypatch.setenv("IFPULSE_HOST_ID", "from-env")
    s = load_settings(flags("--host-id", "from-flag"), config)
    assert s.host_id == "from-flag"
    assert s.interval == 5.0
    assert s.broker == "mqtt://file:1883"
    assert s.proc_root == Path("/host/proc")
    assert s.include == ["eth*", "wlan*"]


def test_roots_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFPULSE_PROC_ROOT", "/host/proc")
    monkeypatch.setenv("IFPULSE_SYS_ROOT", "/host/sys")
    s = load_settings({})
    assert (s.proc_root, s.sys_root) == (Path("/host/proc"), Path("/host/sys"))


def test_glob_lists_from_env_and_repeated_or_comma_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFPULSE_EXCLUDE", "lo, veth*")
    assert load_settings({}).exclude == ["lo", "veth*"]
    s = load_settings(flags("--include", "eth*,br-*", "--include", "wlan0"))
    assert s.include == ["eth*", "br-*", "wlan0"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--interval", "0.05"], "interval"),
        (["--host-id", "bad host"], "host id"),
        (["--broker", "http://x"], "mqtt://"),
        (["--broker", "mqtt://u:secret@x"], "no password in the broker URL"),
        (["--topic-prefix", "a/#"], "prefix"),
        (["--tls-key", "k.pem"], "--tls-key needs --tls-cert"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_config_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("intervall = 3\n")
    assert main(["--config", str(config)]) == 2
    assert "intervall" in capsys.readouterr().err


def test_missing_config_file_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "/nonexistent/publish.toml"]) == 2
    assert "not found" in capsys.readouterr().err


def test_password_comes_from_a_file_or_the_environment_never_a_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert not any("password" in flag and "file" not in flag for flag, _, _ in OPTIONS)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--password", "x"])
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert load_settings(flags("--password-file", str(secret))).read_password() == "s3cret"
    monkeypatch.setenv("IFPULSE_PASSWORD", "from-env")
    s = load_settings({})
    assert s.read_password() == "from-env"
    assert "from-env" not in repr(s)


def test_help_lists_every_option_and_exits_0() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ifpulse", "publish", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: ifpulse publish")
    for flag, _, _ in OPTIONS:
        assert re.search(rf"^\s+{re.escape(flag)}\b", out.stdout, re.M), flag
    for flag in ("--config", "IFPULSE_PASSWORD", "IFPULSE_"):
        assert flag in out.stdout
    fields = set(PublisherSettings.model_fields) - {"password", "ha_discovery"}
    flags = {f for f, _, _ in OPTIONS}
    assert {f"--{name.replace('_', '-')}" for name in fields} <= flags
    assert "--no-ha-discovery" in flags  # the one boolean that defaults to on


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker", BrokerAddress("broker", 1883, False)),
        ("mqtts://broker", BrokerAddress("broker", 8883, True)),
        ("mqtt://10.0.0.5:1884/", BrokerAddress("10.0.0.5", 1884, False)),
        ("mqtts://pub@[::1]:8884", BrokerAddress("::1", 8884, True, "pub")),
    ],
)
def test_parse_broker_url(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    "url", ["tcp://x", "mqtt://", "mqtt://x:notaport", "mqtt://x/topic", "mqtt://u:p@x"]
)
def test_parse_broker_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_broker_url(url)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    low = Backoff(0.5, 8, rand=lambda: 0.0)
    high = Backoff(0.5, 8, rand=lambda: 1.0)
    assert [low.next() for _ in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [high.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    high.reset()
    assert high.next() == 0.5
    real = Backoff(1, 30)
    delays = [real.next() for _ in range(50)]
    assert all(0.5 <= d <= 30 for d in delays) and len(set(delays)) > 10


def test_alert_overrides_from_env_are_separated_by_semicolons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IFPULSE_ALERT_OVERRIDE", "wg*=5,off; eth0=-,100")
    assert load_settings({}).alert_override == ["wg*=5,off", "eth0=-,100"]
    monkeypatch.setenv("IFPULSE_ALERT_OVERRIDE", "wg*=five,off")
    with pytest.raises(ValueError, match="not a number"):
        load_settings({})


def test_ha_options() -> None:
    s = load_settings({"ha_discovery": False, "ha_rate_unit": "kB/s"})
    assert (s.ha_discovery, s.ha_rate_unit, s.ha_prefix) == (False, "kB/s", "homeassistant")
    with pytest.raises(ValueError, match="must be one of"):
        load_settings({"ha_rate_unit": "furlongs/s"})
