"""Checks of caller-supplied names before they reach a store query."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from schemas.messages import IfaceName

_IFACE = TypeAdapter(IfaceName)


def is_iface_name(value: str) -> bool:
    """True if `value` obeys the protocol's interface-name rule (so it could exist)."""
    try:
        _IFACE.validate_python(value)
    except ValidationError:
        return False
    return True
