"""The viewer API's query parameters, checked: a bad one is an `ApiError` naming it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["ApiError", "choice_param", "int_param", "optional_int", "required_param"]


class ApiError(Exception):
    """A request the API refuses: the HTTP status and the message sent as ``error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def optional_int(params: Mapping[str, str], name: str) -> int | None:
    """The integer parameter ``name``; None when absent or empty."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw[:40]!r}") from None


def int_param(
    params: Mapping[str, str], name: str, default: int, lo: int, hi: int | None = None
) -> int:
    """The integer parameter ``name`` (``default`` when absent), in ``lo..hi``."""
    value = optional_int(params, name)
    if value is None:
        return default
    if value < lo or (hi is not None and value > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name} must be in {bounds}, got {value}")
    return value


def choice_param(params: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    """The parameter ``name``, one of ``choices`` (the first when absent)."""
    value = params.get(name) or choices[0]
    if value not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value


def required_param(params: Mapping[str, str], name: str) -> str:
    """The parameter ``name``, which must be given and not empty."""
    value = params.get(name)
    if not value:
        raise ApiError(400, f"the {name} parameter is required")
    return value
