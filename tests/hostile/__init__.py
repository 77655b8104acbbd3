"""Hostile clients against a real ``mosaico serve``: fuzzing and attack cases (issue 11)."""
