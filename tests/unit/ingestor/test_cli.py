from __future__ import annotations

import gc
from pathlib import Path

import pytest

from ingestor.cli import main, tune_gc
from ingestor.service import consumer_config
from ingestor.settings import Settings
from schemas import TopicScheme

OPTIONS = (
    "--broker", "--store", "--group", "--client-id", "--topic-prefix", "--username",
    "--password-file", "--tls-ca", "--tls-cert", "--tls-key", "--batch-size",
    "--flush-interval", "--receive-maximum", "--max-clock-skew", "--session-expiry",
    "--keepalive", "--retry-max-backoff", "--maintain-interval", "--drain-timeout",
    "--metrics-port", "--metrics-host", "--log-level",
)  # fmt: skip


def test_help_lists_every_option_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    missing = [o for o in OPTIONS if o not in out]
    assert not missing, f"--help does not mention {missing}"
    assert "--password " not in out  # secrets never on argv


def test_password_is_refused_on_the_command_line() -> None:
    assert main(["--store", "sqlite:///x.db", "--password", "hunter2"]) == 2


def test_missing_store_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "store" in capsys.readouterr().err


def test_password_from_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = Settings.model_validate({"store": "sqlite:///x", "password_file": secret})
    assert s.mqtt_password() == "s3cret"
    monkeypatch.setenv("IFPULSE_PASSWORD", "from-env")
    monkeypatch.setenv("IFPULSE_STORE", "sqlite:///y")
    s = Settings()  # type: ignore[call-arg]
    assert s.mqtt_password() == "from-env" and s.store == "sqlite:///y"
    assert "from-env" not in repr(s)


def test_defaults_derived_from_the_batch_size() -> None:
    s = Settings.model_validate({"store": "sqlite:///x", "batch_size": 40000 // 4})
    assert s.effective_receive_maximum == 40000
    s = Settings.model_validate({"store": "sqlite:///x", "batch_size": 20000})
    assert s.effective_receive_maximum == 65535  # the most MQTT 5 can say
    s = Settings.model_validate({"store": "sqlite:///x", "receive_maximum": 7})
    assert s.effective_receive_maximum == 7
    s = Settings.model_validate({"store": "sqlite:///x", "broker": "mqtts://b.lan"})
    assert s.tls and s.broker_port == 8883
    config = consumer_config(s, TopicScheme("p"))
    assert config.tls and config.host == "b.lan"


def test_bad_broker_url_is_refused() -> None:
    assert main(["--store", "sqlite:///x.db", "--broker", "http://x"]) == 2


def test_tune_gc_freezes_the_startup_heap_and_widens_the_young_generation() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == 20_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
