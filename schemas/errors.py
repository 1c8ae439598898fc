"""The one error type decoding raises, with its machine-readable reason codes."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why a message was rejected; stable strings, part of the v1 protocol."""

    BAD_TOPIC = "bad_topic"
    BAD_JSON = "bad_json"
    SCHEMA = "schema"
    TOPIC_MISMATCH = "topic_mismatch"
    TOO_LARGE = "too_large"
    CLOCK_SKEW = "clock_skew"
    UNKNOWN_VERSION = "unknown_version"


class DecodeError(ValueError):
    """A message that cannot be accepted, with the reason code and a human detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
