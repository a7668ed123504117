"""Temporal activities of pool (provisional)."""
