"""Publisher settings: command-line flags over `IFPULSE_*` environment over a TOML config file."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from publisher.alerts import DEFAULT_DROPS_PER_SEC, DEFAULT_ERRORS_PER_SEC, Override
from publisher.discovery import DEFAULT_HA_PREFIX, DEFAULT_RATE_UNIT, RATE_FACTORS
from publisher.mqtt import BrokerAddress, parse_broker_url
from schemas import DEFAULT_PREFIX, TopicScheme

_HOST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def default_host_id() -> str:
    """The short hostname, made a valid host id."""
    short = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9._-]", "-", short)[:64] or "localhost"


def default_spool_path() -> Path:
    """`$XDG_STATE_HOME/ifpulse/spool.db`, or `~/.local/state/ifpulse/spool.db`."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "ifpulse" / "spool.db"


GlobList = Annotated[list[str], NoDecode]


class PublisherSettings(BaseSettings):
    """Every option of `ifpulse publish` (the CLI help describes each one)."""

    model_config = SettingsConfigDict(env_prefix="IFPULSE_", extra="forbid", toml_file=None)

    broker: str = "mqtt://localhost:1883"
    host_id: str = Field(default_factory=default_host_id)
    interval: float = Field(default=10.0, ge=0.1, le=86400)
    proc_root: Path = Path("/proc")
    sys_root: Path = Path("/sys")
    include: GlobList = Field(default_factory=list)
    exclude: GlobList = Field(default_factory=lambda: ["lo"])
    spool: Path = Field(default_factory=default_spool_path)
    spool_max_mb: float = Field(default=100.0, gt=0)
    spool_sync: Literal["normal", "full"] = "normal"
    once: bool = False
    once_timeout: float = Field(default=30.0, gt=0)
    topic_prefix: str = DEFAULT_PREFIX
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive: int = Field(default=30, ge=5, le=65535)
    session_expiry: int = Field(default=86400, ge=0)
    reconnect_min: float = Field(default=0.5, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    max_inflight: int = Field(default=20, ge=1, le=65535)
    replay_rate: float = Field(default=200.0, gt=0)
    grace: float = Field(default=5.0, ge=0)
    broker_reset_hold: float = Field(default=10.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ha_discovery: bool = True
    ha_prefix: str = DEFAULT_HA_PREFIX
    ha_rate_unit: str = DEFAULT_RATE_UNIT
    ha_gone_after: float = Field(default=86400.0, gt=0)
    alert_errors_per_sec: float = Field(default=DEFAULT_ERRORS_PER_SEC, ge=0)
    alert_drops_per_sec: float = Field(default=DEFAULT_DROPS_PER_SEC, ge=0)
    alert_override: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags first, then the environment, then the config file."""
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _split_globs(cls, value: Any) -> Any:
        """Accept `a,b` (env, one flag) as well as lists (repeated flags, TOML)."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [g.strip() for item in value for g in str(item).split(",") if g.strip()]
        return value

    @field_validator("alert_override", mode="before")
    @classmethod
    def _split_overrides(cls, value: Any) -> Any:
        """`GLOB=ERRORS,DROPS` items contain commas, so the environment separates them by `;`."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            items = [o.strip() for item in value for o in str(item).split(";") if o.strip()]
            for item in items:
                Override.parse(item)  # a bad override is a configuration error at start
            return items
        return value

    @field_validator("ha_rate_unit")
    @classmethod
    def _check_rate_unit(cls, value: str) -> str:
        if value not in RATE_FACTORS:
            raise ValueError(f"must be one of {', '.join(RATE_FACTORS)}")
        return value

    @field_validator("host_id")
    @classmethod
    def _check_host_id(cls, value: str) -> str:
        if not _HOST_ID.match(value):
            raise ValueError("host id must be 1-64 of A-Z a-z 0-9 . _ -")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        TopicScheme(value)
        return value

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> PublisherSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give the password by --password-file or IFPULSE_PASSWORD, not both")
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("--tls-key needs --tls-cert")
        return self

    @property
    def broker_address(self) -> BrokerAddress:
        """The parsed broker URL."""
        return parse_broker_url(self.broker)

    @property
    def mqtt_client_id(self) -> str:
        """Fixed per host, so the broker keeps our session across reconnects."""
        return self.client_id or f"ifpulse-pub-{self.host_id}"

    def read_password(self) -> str | None:
        """The MQTT password from --password-file or IFPULSE_PASSWORD (never from argv)."""
        if self.password_file is not None:
            return self.password_file.read_text().rstrip("\r\n")
        return self.password.get_secret_value() if self.password else None


def load_settings(flags: dict[str, Any], config_file: Path | None = None) -> PublisherSettings:
    """Build the settings from parsed flags, the environment and an optional TOML file."""
    if config_file is None:
        return PublisherSettings(**flags)

    class _FromFile(PublisherSettings):
        model_config = SettingsConfigDict(toml_file=config_file)

    return _FromFile(**flags)
