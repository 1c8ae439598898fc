"""Storage of samples: one Store protocol and its SQLite and InfluxDB implementations."""

from stores.base import (
    BatchRejected,
    Bucket,
    HostRecord,
    SeriesResult,
    Store,
    StoreError,
    StoreUnavailable,
    UnsupportedSchema,
)
from stores.factory import open_store

__all__ = [
    "BatchRejected",
    "Bucket",
    "HostRecord",
    "SeriesResult",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnsupportedSchema",
    "open_store",
]
