"""Temporal workflows of pool (provisional: the ownership workflow lands with its worker)."""
