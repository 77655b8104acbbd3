"""Names and locators (spec §3): normalisation and validation shared by client and server.

>>> from mosaico.protocol import SessionLocator, TopicLocator, normalize_sequence_name
>>> normalize_sequence_name("/run-A/")
'run-A'
>>> topic = TopicLocator.parse("/run-001//imu/./front/")
>>> str(topic), topic.name
('run-001/imu/front', '/imu/front')
>>> SessionLocator.parse("run-001:01KQ9XQ0HJ3V39F87CBP6PYA1T").session_id
'01KQ9XQ0HJ3V39F87CBP6PYA1T'

Every check raises ``InvalidArgument`` naming the string and what is wrong with it.
"""

from __future__ import annotations

import re
import uuid

import attrs

from mosaico.protocol.errors import InvalidArgument

MAX_NAME_CHARS = 512
"""Longest sequence name or topic path accepted, in characters (before normalisation)."""
_SEGMENT_CHARS = re.compile(r"[A-Za-z0-9_-]")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def _describe_bad_char(kind: str, raw: str, char: str) -> str:
    if char == "/":
        return f"{kind} {raw!r} must not contain '/'"
    if char == ".":
        return f"{kind} {raw!r} must not contain '.' (no '.' or '..' components)"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"{kind} {raw!r} must not contain control character {char!r}"
    return f"{kind} {raw!r} contains {char!r}; allowed characters are A-Z a-z 0-9 '_' '-'"


def _check_segment(kind: str, raw: str, segment: str, first: bool) -> None:
    if segment == "..":
        raise InvalidArgument(f"{kind} {raw!r} must not contain '..'")
    for char in segment:
        if not _SEGMENT_CHARS.fullmatch(char):
            raise InvalidArgument(_describe_bad_char(kind, raw, char))
    if first and not segment[0].isalnum():
        raise InvalidArgument(f"{kind} {raw!r} must start with an ASCII letter or digit")


def _require_str(kind: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidArgument(f"{kind} must be a string, got {type(raw).__name__}")
    if len(raw) > MAX_NAME_CHARS:
        raise InvalidArgument(
            f"{kind} {raw[:40]!r}... is {len(raw)} characters, more than {MAX_NAME_CHARS}"
        )
    return raw


def normalize_sequence_name(raw: object) -> str:
    """Strip leading/trailing '/' (§3.4) and validate against ``^[A-Za-z0-9][A-Za-z0-9_-]*$``.

    Raises:
        InvalidArgument: ``raw`` is not a string, is empty once stripped, or breaks the rule.
    """
    text = _require_str("sequence name", raw)
    name = text.strip("/")
    if not name:
        raise InvalidArgument(f"sequence name {text!r} is empty")
    _check_segment("sequence name", text, name, first=True)
    return name


def normalize_topic_path(raw: object) -> str:
    """Normalise a topic path like a POSIX path (§3.2) and validate it; no leading '/'.

    Repeated ``/`` collapse and ``.`` segments disappear: ``"/imu//./front/"`` gives
    ``"imu/front"``.

    Raises:
        InvalidArgument: ``raw`` is not a string, has no segment, contains ``..`` or a
            character outside ``[A-Za-z0-9_-/]``, or its first segment does not start with
            a letter or digit.
    """
    text = _require_str("topic name", raw)
    segments = [s for s in text.split("/") if s not in ("", ".")]
    if not segments:
        raise InvalidArgument(f"topic name {text!r} is empty")
    for index, segment in enumerate(segments):
        _check_segment("topic name", text, segment, first=index == 0)
    return "/".join(segments)


@attrs.frozen
class TopicLocator:
    """``<sequence>/<path>``; ``str()`` gives the wire form, ``name`` the display form ``/path``."""

    sequence: str
    path: str

    @classmethod
    def parse(cls, raw: object) -> TopicLocator:
        """Split ``<sequence>/<path>`` (``/`` at both ends tolerated) and normalise both parts.

        Raises:
            InvalidArgument: ``raw`` is not a string, has fewer than two segments, or either
                part is not a valid name.
        """
        text = _require_str("topic locator", raw)
        stripped = text.strip("/")
        head, sep, rest = stripped.partition("/")
        if not sep or not rest.strip("/"):
            raise InvalidArgument(
                f"topic locator {text!r} must have the form '<sequence>/<topic path>'"
            )
        return cls(normalize_sequence_name(head), normalize_topic_path(rest))

    @property
    def name(self) -> str:
        """The display name ``/path`` used by users and by topic query filters (§3.3)."""
        return f"/{self.path}"

    def __str__(self) -> str:
        return f"{self.sequence}/{self.path}"


@attrs.frozen
class SessionLocator:
    """``<sequence>:<session identifier>`` (§3.3)."""

    sequence: str
    session_id: str

    @classmethod
    def parse(cls, raw: object) -> SessionLocator:
        """Split ``<sequence>:<id>``; the id is the server's, ``[A-Za-z0-9_-]+``.

        Raises:
            InvalidArgument: ``raw`` is not a string, has no ``:``, or either part is invalid.
        """
        text = _require_str("session locator", raw)
        head, sep, ident = text.strip("/").partition(":")
        if not sep:
            raise InvalidArgument(
                f"session locator {text!r} must have the form '<sequence>:<session id>'"
            )
        if not _SESSION_ID.fullmatch(ident):
            raise InvalidArgument(f"session locator {text!r} has an invalid session id")
        return cls(normalize_sequence_name(head), ident)

    def __str__(self) -> str:
        return f"{self.sequence}:{self.session_id}"


def parse_uuid(raw: object, what: str) -> str:
    """Validate a UUID sent by a peer; returns its canonical lowercase text.

    Raises:
        InvalidArgument: ``raw`` is not a string or not a UUID; ``what`` names the key.
    """
    text = _require_str(what, raw)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidArgument(f"{what} {text!r} is not a valid UUID") from None


def is_topic_locator(normalized: str) -> bool:
    """A locator with a '/' names a topic; a single segment names a sequence (§7.1)."""
    return "/" in normalized.strip("/")
