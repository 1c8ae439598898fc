"""ifpulse api."""
