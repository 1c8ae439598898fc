"""Settings of `ifpulse api`: flags, IFPULSE_* environment variables, secrets from files."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, CliSuppress, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Everything `ifpulse api` can be told; built in main() or by tests, never at import."""

    model_config = SettingsConfigDict(
        env_prefix="IFPULSE_",
        cli_kebab_case=True,
        cli_prog_name="ifpulse api",
        cli_implicit_flags=True,
        extra="ignore",
    )

    store: str = Field(description="store URL: sqlite:///path/to/db or influxdb://host:8086/db")
    bind: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port to listen on")
    # The token is a secret: env IFPULSE_API_TOKEN or a file, never a command-line argument.
    api_token: CliSuppress[SecretStr | None] = None
    api_token_file: Path | None = Field(
        default=None,
        description="file holding the bearer token every /api route then needs "
        "(or env IFPULSE_API_TOKEN); unset = no auth",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed by CORS, e.g. '[\"https://grafana.lan\"]'; default none",
    )
    stale_intervals: float = Field(
        default=3.0, gt=0, description="a host is stale after this many missed intervals"
    )
    default_interval_s: float = Field(
        default=10.0, gt=0, description="interval assumed for a host that never said its own"
    )
    response_cache_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="identical sparkline (at most a tenth of a bucket) and /metrics requests "
        "within this many seconds share one answer, never older than twice this; 0 = no cache",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="log level of the api and uvicorn"
    )

    def token(self) -> str | None:
        """The bearer token in force: the env/constructor value, else the file's first line."""
        if self.api_token is not None and self.api_token.get_secret_value():
            return self.api_token.get_secret_value()
        if self.api_token_file is not None:
            lines = self.api_token_file.read_text(encoding="utf-8").strip().splitlines()
            value = lines[0].strip() if lines else ""
            if not value:
                raise ValueError(f"API token file {self.api_token_file} is empty")
            return value
        return None
