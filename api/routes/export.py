"""Raw samples as CSV or JSON, streamed: /api/v1/export/traffic."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BeforeValidator

from api.deps import NowDep, StoreDep, find_host
from api.models import Problem
from api.names import is_iface_name
from api.streaming import ThreadedChunks
from schemas import COUNTER_NAMES, RATE_NAMES, InterfaceSample, encode
from schemas.messages import HOST_PATTERN

router = APIRouter(prefix="/api/v1/export", tags=["export"])

CSV_COLUMNS: tuple[str, ...] = (
    "ts",
    "host",
    "iface",
    "seq",
    "boot_id",
    "interval_s",
    *COUNTER_NAMES,
    *(f"delta_{name}" for name in COUNTER_NAMES),
    *RATE_NAMES,
    "is_up",
    "oper_state",
    "speed_mbps",
    "mtu",
    "mac",
    "kind",
)
_CHUNK_BYTES = 64 * 1024
_DEFAULT_SPAN = timedelta(hours=24)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def csv_row(sample: InterfaceSample) -> list[Any]:
    """One sample as a CSV row in CSV_COLUMNS order (empty cell for null)."""
    head: list[Any] = [sample.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")]
    head += [sample.host, sample.iface, sample.seq, sample.boot_id, sample.interval_s]
    counters = [getattr(sample, name) for name in COUNTER_NAMES]
    deltas = [getattr(sample.delta, name) for name in COUNTER_NAMES]
    rates = [getattr(sample, name) for name in RATE_NAMES]
    tail = [str(sample.is_up).lower(), sample.oper_state.value, sample.speed_mbps]
    tail += [sample.mtu, sample.mac, sample.kind.value]
    return ["" if v is None else v for v in [*head, *counters, *deltas, *rates, *tail]]


def csv_chunks(samples: Iterable[InterfaceSample]) -> Iterator[bytes]:
    """A header row, then the samples, in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sample in samples:
        writer.writerow(csv_row(sample))
        if buffer.tell() >= _CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def json_chunks(samples: Iterable[InterfaceSample]) -> Iterator[bytes]:
    """A JSON array of samples in their wire form, in chunks of about 64 KiB."""
    parts: list[bytes] = [b"["]
    size, separator = 1, b""
    for sample in samples:
        item = separator + encode(sample)
        parts.append(item)
        size += len(item)
        separator = b",\n"
        if size >= _CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(b"]\n")
    yield b"".join(parts)


def _rfc3339_only(value: object) -> object:
    """Refuse epoch numbers pydantic would accept: the schema promises an RFC 3339 time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("expected an RFC 3339 time such as 2026-11-22T12:00:00Z")
    return value


def _is_number(text: str) -> bool:
    # float() also takes exponents ("-4.3e-217") and "inf", which a digit check missed.
    try:
        float(text)
    except ValueError:
        return False
    return True


def _utc(value: datetime) -> datetime:
    """The time in UTC (naive means UTC); a time whose UTC form is outside years 1-9999 is
    refused as a bad value (FastAPI's 422) instead of overflowing later."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range once converted to UTC") from exc


QueryTime = Annotated[datetime, BeforeValidator(_rfc3339_only), AfterValidator(_utc)]


@router.get(
    "/traffic",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "samples in time order (CSV with a header row, or a JSON array)",
        },
        404: {"model": Problem, "description": "unknown server"},
    },
)
async def export_traffic(
    store: StoreDep,
    now: NowDep,
    server_id: Annotated[
        str | None, Query(pattern=HOST_PATTERN, description="one host; omit for all")
    ] = None,
    interface: Annotated[str | None, Query(description="one interface; omit for all")] = None,
    start: Annotated[QueryTime | None, Query(description="from (default: end - 24 h)")] = None,
    end: Annotated[QueryTime | None, Query(description="until, exclusive (default: now)")] = None,
    format: Annotated[Literal["csv", "json"], Query(description="csv or json")] = "csv",
) -> StreamingResponse:
    """Every raw sample in [start, end), streamed so a month of data never sits in memory."""
    until = end if end is not None else now
    # The default span stops at the first representable instant (an end in year 1 would
    # otherwise overflow the subtraction); such a range is empty and refused just below.
    since = start if start is not None else until - min(_DEFAULT_SPAN, until - _EARLIEST)
    if since >= until:
        # The shape of FastAPI's own 422, so clients parse one error format.
        error = {"loc": ("query", "start"), "msg": "start must be before end", "type": "value"}
        raise RequestValidationError([error])
    host_id = None
    if server_id is not None:
        host_id = (await anyio.to_thread.run_sync(find_host, store, server_id)).id
    to_chunks = csv_chunks if format == "csv" else json_chunks

    def make() -> Iterator[bytes]:
        if interface is not None and not is_iface_name(interface):
            return to_chunks([])  # no interface can have that name
        return to_chunks(store.samples(host_id, interface, since, until))

    chunks = ThreadedChunks(make)
    first = await chunks.first()
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    name = f"ifpulse-traffic.{format}"
    return StreamingResponse(
        chunks.rest(first),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
