"""The MQTT topic scheme: the only place ifpulse topic strings are built or parsed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import quote, unquote

from schemas.errors import DecodeError, Reason

VERSION_LEVEL = "v1"
DEFAULT_PREFIX = "ifpulse"
REJECTED_LEVEL = "_rejected"

# Printable ASCII that may stay literal in a topic level. Everything else (the MQTT
# wildcards `+ #`, the separator `/`, our escape `%`, space, control and non-ASCII
# bytes) is percent-encoded from the name's UTF-8 bytes.
_SAFE = "!\"$&'()*,:;<=>?@[\\]^`{|}"


class TopicKind(enum.StrEnum):
    """What a topic carries."""

    SAMPLE = "iface"
    STATUS = "status"
    ALERT = "alert"
    REJECTED = "_rejected"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A topic taken apart: its kind and the decoded host and interface names."""

    kind: TopicKind
    host: str | None = None
    iface: str | None = None


def encode_level(name: str) -> str:
    """Percent-encode one name so it is a single, wildcard-free topic level."""
    return quote(name, safe=_SAFE, encoding="utf-8", errors="strict")


def decode_level(level: str) -> str:
    """Decode one topic level; only the canonical encoding is accepted."""
    try:
        name = unquote(level, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise DecodeError(Reason.BAD_TOPIC, f"level {level!r} is not valid UTF-8") from exc
    if not name or encode_level(name) != level:
        raise DecodeError(Reason.BAD_TOPIC, f"level {level!r} is not canonically encoded")
    return name


class TopicScheme:
    """Builds and parses `{prefix}/v1/...` topics for one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or any(c in prefix for c in "+#") or prefix.startswith(("/", "$")):
            raise ValueError(f"invalid topic prefix {prefix!r}")
        self.prefix = prefix.rstrip("/")
        self._base = f"{self.prefix}/{VERSION_LEVEL}"
        self._depth = self._base.count("/") + 1

    def sample(self, host: str, iface: str) -> str:
        """Topic of one interface's samples."""
        return f"{self._base}/{encode_level(host)}/iface/{encode_level(iface)}"

    def status(self, host: str) -> str:
        """Topic of a host's retained status (and its will)."""
        return f"{self._base}/{encode_level(host)}/status"

    def alert(self, host: str, iface: str) -> str:
        """Topic of one interface's retained alert state."""
        return f"{self._base}/{encode_level(host)}/alert/{encode_level(iface)}"

    def rejected(self) -> str:
        """Topic where ingestors dead-letter rejected messages."""
        return f"{self._base}/{REJECTED_LEVEL}"

    def sample_filter(self, host: str = "+") -> str:
        """Subscription filter for samples (all hosts by default)."""
        return f"{self._base}/{host}/iface/+"

    def status_filter(self) -> str:
        """Subscription filter for every host's status."""
        return f"{self._base}/+/status"

    def alert_filter(self) -> str:
        """Subscription filter for every alert."""
        return f"{self._base}/+/alert/+"

    def host_filter(self, host: str) -> str:
        """Everything one host may publish (used by ACLs)."""
        return f"{self._base}/{encode_level(host)}/#"

    def parse(self, topic: str) -> ParsedTopic:
        """Take a topic apart; raise DecodeError(bad_topic) for anything not ours."""
        if not topic.startswith(self._base + "/"):
            raise DecodeError(Reason.BAD_TOPIC, f"topic {topic[:200]!r} is not under {self._base}/")
        rest = topic[len(self._base) + 1 :].split("/")
        if rest == [REJECTED_LEVEL]:
            return ParsedTopic(TopicKind.REJECTED)
        if len(rest) == 2 and rest[1] == "status":
            return ParsedTopic(TopicKind.STATUS, decode_level(rest[0]))
        if len(rest) == 3 and rest[1] in ("iface", "alert"):
            kind = TopicKind.SAMPLE if rest[1] == "iface" else TopicKind.ALERT
            return ParsedTopic(kind, decode_level(rest[0]), decode_level(rest[2]))
        raise DecodeError(Reason.BAD_TOPIC, f"topic {topic[:200]!r} does not match the v1 scheme")
