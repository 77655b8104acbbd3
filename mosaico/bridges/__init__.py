"""Bridges between mosaico and other recording formats."""
