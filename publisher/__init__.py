"""ifpulse publisher."""
