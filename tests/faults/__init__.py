"""Fault and security tests: break the pipeline on purpose, count samples end to end."""
