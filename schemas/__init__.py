"""The ifpulse wire contract: payload models, topic scheme and codec (protocol v1)."""

from schemas.codec import decode, decode_rejection, encode, make_rejection
from schemas.errors import DecodeError, Reason
from schemas.messages import (
    COUNTER_NAMES,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    RATE_NAMES,
    AlertState,
    Cleared,
    Deltas,
    HostState,
    HostStatus,
    InterfaceKind,
    InterfaceSample,
    Message,
    OperState,
    Rejection,
)
from schemas.topics import DEFAULT_PREFIX, ParsedTopic, TopicKind, TopicScheme

__all__ = [
    "COUNTER_NAMES",
    "DEFAULT_PREFIX",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL_VERSION",
    "RATE_NAMES",
    "AlertState",
    "Cleared",
    "DecodeError",
    "Deltas",
    "HostState",
    "HostStatus",
    "InterfaceKind",
    "InterfaceSample",
    "Message",
    "OperState",
    "ParsedTopic",
    "Reason",
    "Rejection",
    "TopicKind",
    "TopicScheme",
    "decode",
    "decode_rejection",
    "encode",
    "make_rejection",
]
