"""Deliver line protocol: retry 429/5xx with backoff (Retry-After), split on 413, reject 4xx."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from stores.base import BatchRejected, StoreUnavailable
from stores.influx_http import Reply
from stores.influx_url import InfluxConfig

log = logging.getLogger(__name__)

Sender = Callable[[bytes], Reply]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one write tries before it gives up with StoreUnavailable."""

    attempts: int = 4
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    max_retry_after_s: float = 30.0


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


def _send_with_retries(
    body: bytes, send: Sender, policy: RetryPolicy, sleep: Callable[[float], None]
) -> Reply:
    """Send until a non-transient answer; StoreUnavailable once the attempts are spent."""
    for attempt in range(policy.attempts):
        wait = min(policy.max_backoff_s, policy.backoff_s * 2**attempt)
        try:
            reply = send(body)
        except StoreUnavailable:
            if attempt == policy.attempts - 1:
                raise
        else:
            if not _transient(reply.status):
                return reply
            if attempt == policy.attempts - 1:
                raise StoreUnavailable(
                    f"InfluxDB write answered {reply.status} after {policy.attempts} attempts: "
                    f"{reply.text()}"
                )
            hinted = retry_after_s(reply.headers.get("retry-after"))
            if hinted is not None:
                wait = min(hinted, policy.max_retry_after_s)
        sleep(wait)
    raise StoreUnavailable("InfluxDB write: no attempts allowed")  # attempts < 1


def _only_expired_points_dropped(reply: Reply) -> bool:
    """1.x answers 400 'partial write: points beyond retention policy dropped=N' for old points.

    Those points are past their retention anyway; the rest of the batch was written.
    """
    text = reply.text(2000)
    return (
        reply.status == 400
        and "points beyond retention policy" in text
        and "field type conflict" not in text
        and "unable to parse" not in text
    )


def send_lines(
    lines: list[str],
    send: Sender,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write lines; raise StoreUnavailable (try later) or BatchRejected (never retry as is)."""
    if not lines:
        return
    policy = policy or RetryPolicy()
    reply = _send_with_retries("\n".join(lines).encode(), send, policy, sleep)
    if reply.status in (200, 204):
        return
    if reply.status == 413:
        if len(lines) == 1:
            raise BatchRejected("InfluxDB refused one point as too large (413)")
        mid = len(lines) // 2
        send_lines(lines[:mid], send, policy, sleep)
        send_lines(lines[mid:], send, policy, sleep)
        return
    if _only_expired_points_dropped(reply):
        log.info("InfluxDB dropped points older than their retention policy")
        return
    if reply.status in (401, 403, 404):
        # Credentials or a missing database: the operator's to fix, not the data's fault.
        raise StoreUnavailable(f"InfluxDB write answered {reply.status}: {reply.text()}")
    raise BatchRejected(f"InfluxDB refused the batch ({reply.status}): {reply.text()}")


def v2_sender(cfg: InfluxConfig, bucket: str) -> tuple[Sender, Callable[[], None]]:
    """A Sender over influxdb-client's write API (/api/v2/write), and its close function."""
    import urllib3
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.domain.write_precision import WritePrecision
    from influxdb_client.rest import ApiException

    # 1.8+ takes "username:password" as its token.
    token = cfg.token or (f"{cfg.username}:{cfg.password or ''}" if cfg.username else "")
    client: Any = InfluxDBClient(
        url=cfg.base_url, token=token, org=cfg.org or "-", timeout=int(cfg.timeout_s * 1000)
    )
    api: Any = client.write_api(write_options=SYNCHRONOUS)

    def send(body: bytes) -> Reply:
        try:
            api.write(
                bucket=bucket, org=cfg.org or "-", record=body, write_precision=WritePrecision.MS
            )
        except ApiException as exc:
            headers = {str(k).lower(): str(v) for k, v in dict(exc.headers or {}).items()}
            raw = exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
            return Reply(int(exc.status or 0), headers, raw)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            where = f"{cfg.host}:{cfg.port}"
            raise StoreUnavailable(
                f"InfluxDB at {where} unreachable: {type(exc).__name__}"
            ) from None
        return Reply(204, {}, b"")

    return send, client.close
