"""Settings of `ifpulse ingest`: every option is a flag and an IFPULSE_* variable."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, CliSuppress, SettingsConfigDict

from schemas import DEFAULT_PREFIX

# MQTT 5 caps Receive Maximum at 65535.
MAX_RECEIVE_MAXIMUM = 65535


def _default_client_id() -> str:
    return f"ifpulse-ingest-{socket.gethostname()}"[:64]


class Settings(BaseSettings):
    """Subscribe to ifpulse topics, validate every message and write it to a store."""

    model_config = SettingsConfigDict(
        env_prefix="IFPULSE_",
        cli_kebab_case=True,
        cli_prog_name="ifpulse ingest",
        cli_implicit_flags=True,
        extra="ignore",
    )

    broker: str = Field(
        "mqtt://127.0.0.1:1883",
        description="MQTT broker URL: mqtt://host:port or mqtts://host:port",
    )
    store: str = Field(
        description="store URL: sqlite:///path/to/ifpulse.db or influxdb://host:8086/db"
    )
    group: str | None = Field(
        None, description="shared-subscription group ($share/NAME/...): N ingestors split the load"
    )
    client_id: str = Field(
        default_factory=_default_client_id,
        description=(
            "fixed MQTT client id, unique per ingestor; the broker keys the persistent session "
            "by it (default: ifpulse-ingest-HOSTNAME)"
        ),
    )
    topic_prefix: str = Field(DEFAULT_PREFIX, description="first topic level")
    username: str | None = Field(None, description="MQTT user name")
    password_file: Path | None = Field(
        None, description="file holding the MQTT password (or set IFPULSE_PASSWORD)"
    )
    password: CliSuppress[SecretStr | None] = None
    tls_ca: Path | None = Field(None, description="CA bundle for mqtts:// (default: system CAs)")
    tls_cert: Path | None = Field(None, description="client certificate for mqtts://")
    tls_key: Path | None = Field(None, description="client certificate's key for mqtts://")
    batch_size: int = Field(500, ge=1, le=20000, description="messages per store write")
    flush_interval: float = Field(
        1.0, gt=0, le=60, description="seconds a partial batch may wait before it is written"
    )
    receive_maximum: int | None = Field(
        None,
        ge=1,
        le=MAX_RECEIVE_MAXIMUM,
        description=(
            "MQTT 5 Receive Maximum: messages the broker may have unacked with us "
            "(default: 4 x batch size); mosquitto's max_inflight_messages must allow it"
        ),
    )
    max_clock_skew: float = Field(
        300.0, gt=0, description="seconds a sample time may be ahead of this clock"
    )
    session_expiry: int = Field(
        86400, ge=0, description="seconds the broker keeps the session (and queues) while offline"
    )
    keepalive: int = Field(30, ge=5, description="MQTT keepalive, seconds")
    retry_max_backoff: float = Field(
        10.0, gt=0, description="longest wait between store retries, seconds"
    )
    maintain_interval: float = Field(
        30.0, gt=0, description="seconds between store maintenance slices (rollups, retention)"
    )
    drain_timeout: float = Field(
        30.0, ge=0, description="on SIGTERM, how long to keep trying to write what is queued"
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="HTTP port for Prometheus /metrics (0 = off)"
    )
    metrics_host: str = Field("127.0.0.1", description="address the /metrics server binds")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("broker must look like mqtt://host:port or mqtts://host:port")
        return value

    @property
    def broker_host(self) -> str:
        """Host part of the broker URL."""
        return urlsplit(self.broker).hostname or "127.0.0.1"

    @property
    def broker_port(self) -> int:
        """Port of the broker URL (1883, or 8883 for mqtts, when absent)."""
        return urlsplit(self.broker).port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        """True for an mqtts:// broker."""
        return urlsplit(self.broker).scheme == "mqtts"

    @property
    def effective_receive_maximum(self) -> int:
        """Receive Maximum to ask for: four batches, so that paho keeps reading while one is
        being written (measured: 2 batches left it waiting for the ack; 4 gave +8-17 %)."""
        if self.receive_maximum is not None:
            return self.receive_maximum
        return min(4 * self.batch_size, MAX_RECEIVE_MAXIMUM)

    def mqtt_password(self) -> str | None:
        """The MQTT password from --password-file or IFPULSE_PASSWORD (never argv)."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password else None
