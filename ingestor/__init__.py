"""ifpulse ingestor."""
