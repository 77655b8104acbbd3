"""Hypothesis strategies for hostile requests: valid-looking structure, hostile values.

A request names the resources it targets with tokens (``@SEQ@``, ``@TOPIC_UUID@``, ...) that
the test replaces by real names just before sending (``tests.hostile.scene``): the fresh
sequence, session and topic of the example, or the canary written before the fuzzing. So
every example meets a store in the same state, and whatever it does to its own resources
cannot change the next example.

JSON bodies are built from plain values and ``Raw`` fragments, written verbatim: what
``json.dumps`` cannot or will not write (``NaN``, a 5000-digit integer, ``"\\ud800"``, 100,000
levels of nesting, a duplicated key).

The glob patterns drawn here for ordinary query bodies keep few ``*``: a backtracking matcher
on such a pattern costs milliseconds, so one slow pattern cannot stall the whole run. The
pathological patterns (many ``*``, long runs of ``[``) are drawn by ``freeze_queries`` for the
liveness properties alone, on ladders of sizes whose cost is either well under or well over
the bounds.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

import attrs
import pyarrow as pa
from hypothesis import strategies as st

# -- tokens the scene replaces ---------------------------------------------------------

NEWSEQ = "@NEWSEQ@"  # a fresh sequence name that does not exist yet
SEQ = "@SEQ@"  # a fresh sequence of the example, with one pending session
SESSION_UUID = "@SESSION_UUID@"
SESSION_LOC = "@SESSION_LOC@"
TOPIC = "@TOPIC@"  # a topic of that session (locator), created without data
TOPIC_UUID = "@TOPIC_UUID@"
CANARY = "@CANARY@"  # the canary sequence (finalized, written before the fuzzing)
CANARY_TOPIC = "@CANARY_TOPIC@"
CANARY_SESSION_UUID = "@CANARY_SESSION_UUID@"
CANARY_TOPIC_UUID = "@CANARY_TOPIC_UUID@"
ASEQ = "@ASEQ@"  # a sequence whose names and strings are long runs of 'a' (glob targets)
ATOPIC = "@ATOPIC@"

OWN_TOKENS = (NEWSEQ, SEQ, SESSION_UUID, SESSION_LOC, TOPIC, TOPIC_UUID)
SHARED_TOKENS = (CANARY, CANARY_TOPIC, CANARY_SESSION_UUID, CANARY_TOPIC_UUID, ASEQ, ATOPIC)

# -- the actions of spec §5.3 ------------------------------------------------------------

READ_ACTIONS = (
    "query", "topic_filter_clusterize", "topic_filter_intersect",
    "sequence_notification_list", "topic_notification_list",
)  # fmt: skip
WRITE_ACTIONS = (
    "sequence_create", "session_create", "topic_create", "session_finalize",
    "sequence_notification_create", "topic_notification_create",
)  # fmt: skip
DELETE_ACTIONS = (
    "sequence_delete", "session_delete", "topic_delete",
    "sequence_notification_purge", "topic_notification_purge",
)  # fmt: skip
ACTIONS = ("info", *READ_ACTIONS, *WRITE_ACTIONS, *DELETE_ACTIONS)
PAGED_ACTIONS = frozenset({"topic_filter_clusterize", "topic_filter_intersect"})

# Spec §2.4: the permission each call needs (None: any valid key).
PERMISSION: dict[str, str | None] = {
    "info": None,
    **dict.fromkeys(READ_ACTIONS, "read"),
    **dict.fromkeys(WRITE_ACTIONS, "write"),
    **dict.fromkeys(DELETE_ACTIONS, "delete"),
    "GetFlightInfo": "read", "GetSchema": "read", "DoGet": "read", "ListFlights": "read",
    "DoPut": "write",
}  # fmt: skip


# -- JSON with verbatim fragments ------------------------------------------------------


@attrs.frozen
class Raw:
    """A JSON fragment written as it is (also usable as an object key)."""

    text: str

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else f"{self.text[:40]}...<{len(self.text)} chars>"
        return f"Raw({shown!r})"


@attrs.frozen
class Dup:
    """An object whose keys may repeat: pairs written in order."""

    pairs: tuple[tuple[Any, Any], ...]


def encode(value: Any) -> str:
    """JSON text of ``value``; ``Raw`` fragments verbatim, ``Dup`` keys repeated."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return _object(value.items())
    if isinstance(value, Dup):
        return _object(value.pairs)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _object(pairs: Any) -> str:
    items = (f"{_key(k)}:{encode(v)}" for k, v in pairs)
    return "{" + ",".join(items) + "}"


def _key(key: Any) -> str:
    return key.text if isinstance(key, Raw) else json.dumps(str(key), ensure_ascii=False)


def body_bytes(value: Any) -> bytes:
    """The UTF-8 bytes of ``encode(value)`` (raw bytes pass through)."""
    if isinstance(value, bytes):
        return value
    return encode(value).encode("utf-8", "surrogatepass")


# -- hostile values ----------------------------------------------------------------------

# Free text never holds '*': a backtracking matcher on a run of '*' takes forever, and any
# string may end up as a `$match` operand. The pathological globs are `freeze_queries`'.
SAFE_CHARS = st.characters(blacklist_characters="*", blacklist_categories=("Cs",))
safe_text = st.text(SAFE_CHARS, max_size=24)

WEIRD_NAMES = (
    "", "/", "//", ".", "..", "../x", "a/../b", "a/./b", "./a", "a\x00b", "\x00", "a b", " a",
    "a:b", ":", "a:", "é", "日本語", "🚀", "a\nb", "a\\b", "-a", "_a", "a.b", "%2e%2e",
    "a//b", "/a/", "a/", "CON", "\u202ea", "\ufeffa", "a\u0301", "a" * 300,
)  # fmt: skip


def weird_name() -> st.SearchStrategy[str]:
    """Names with '/', '..', NUL, controls, unicode, or none of the allowed characters."""
    own = st.sampled_from([SEQ, NEWSEQ, CANARY, ASEQ])
    glued = st.tuples(own, st.sampled_from(["/", "/..", "/../x", "\x00", "/./a", ":x", "//", "/é"]))
    return st.one_of(
        st.sampled_from(WEIRD_NAMES),
        glued.map("".join),
        st.text(st.sampled_from("a/.:\x00 é_-\\%"), max_size=12),
        safe_text,
    )


def wrong_types() -> st.SearchStrategy[Any]:
    """A JSON value of some other type than the key wants."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False), safe_text,
        st.lists(st.integers(), max_size=3), st.dictionaries(safe_text, st.integers(), max_size=2),
    )  # fmt: skip


def huge_numbers() -> st.SearchStrategy[Any]:
    """Integers past int64 (up to 6000 digits), exponents past float range, edge values."""
    digits = st.integers(19, 6000).map(lambda n: "9" * n)
    return st.one_of(
        digits.map(Raw),
        digits.map(lambda d: Raw("-" + d)),
        st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**63 - 1, -(2**63), 10**30]),
        st.integers(3, 6000).map(lambda n: Raw("1e" + "9" * n)),
        st.sampled_from([Raw("1e999"), Raw("-1e999"), Raw("1e-999"), Raw("-0"), Raw("1.0"),
                         Raw("0." + "0" * 400 + "1"), Raw("1" + "0" * 400 + ".5")]),  # fmt: skip
    )


def non_finite() -> st.SearchStrategy[Raw]:
    """NaN and the infinities, as the JSON literals Python's decoder accepts."""
    return st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-Infinity")])


def nested(kind: str, depth: int) -> Raw:
    """``depth`` levels of arrays, objects, or both alternating."""
    if kind == "array":
        return Raw("[" * depth + "]" * depth)
    if kind == "object":
        return Raw('{"a":' * depth + "0" + "}" * depth)
    half = depth // 2
    return Raw('{"a":[' * half + "0" + "]}" * half)


def deep_nesting() -> st.SearchStrategy[Raw]:
    """From the depth where recursive code starts to break to 100,000 levels, with a third
    of the draws in 975-1000: Python's decoder accepts those in one call and fails on
    them a few stack frames deeper (a value stored, then unreadable)."""
    return st.builds(
        nested, st.sampled_from(["array", "object", "mixed"]),
        st.one_of(st.integers(975, 1000), st.integers(900, 3000), st.integers(3000, 100_000)),
    )  # fmt: skip


SURROGATES = ("\\ud800", "\\udfff", "\\ud83d", "\\udc00\\ud800", "\\ud800\\u0041")


def _with_surrogate(before: str, escape: str, after: str) -> Raw:
    return Raw(json.dumps(before)[:-1] + escape + json.dumps(after)[1:])


def surrogate_text() -> st.SearchStrategy[Raw]:
    """A JSON string holding a lone UTF-16 surrogate escape."""
    return st.builds(_with_surrogate, safe_text, st.sampled_from(SURROGATES), safe_text)


LONG_UNITS = ("a", "x/", "é", "日本", "../", "\x00", "%", "🚀", "ab-")


def long_text() -> st.SearchStrategy[str]:
    """A repeated unit, 500 characters to ~100 KB."""
    return st.builds(lambda unit, n: unit * n, st.sampled_from(LONG_UNITS), st.integers(500, 40_000))


FAMILIES: dict[str, st.SearchStrategy[Any]] = {
    "types": wrong_types(),
    "numbers": st.one_of(huge_numbers(), non_finite()),
    "nesting": deep_nesting(),
    "text": st.one_of(surrogate_text(), long_text(), weird_name()),
}
ANY_HOSTILE = st.one_of(*FAMILIES.values())


# -- valid-looking templates -------------------------------------------------------------

def metadata() -> st.SearchStrategy[Any]:
    """User metadata: a plain object, or one holding a hostile value (by family)."""
    plain = st.dictionaries(safe_text, st.one_of(safe_text, st.integers(), st.booleans()), max_size=3)
    return st.one_of(plain, st.builds(lambda k, v: {k: v}, safe_text, ANY_HOSTILE))


def seq_locator(protected_ok: bool) -> st.SearchStrategy[str]:
    """A sequence locator: the example's own, the canary (when allowed), or a weird one."""
    mine = st.sampled_from([SEQ, f"/{SEQ}/", f"{SEQ}/"])
    shared = st.sampled_from([CANARY, ASEQ]) if protected_ok else st.nothing()
    return st.one_of(mine, shared, weird_name())


def topic_locator(protected_ok: bool) -> st.SearchStrategy[str]:
    """A topic locator: the example's own, a canary topic (when allowed), or a weird one."""
    mine = st.sampled_from([TOPIC, f"/{TOPIC}", f"{TOPIC}/", f"{SEQ}/nope", f"{TOPIC}/../x"])
    shared = st.sampled_from([CANARY_TOPIC, ATOPIC]) if protected_ok else st.nothing()
    return st.one_of(mine, shared, weird_name())


def session_uuid() -> st.SearchStrategy[str]:
    """The example's pending session, the canary's finalized one, or not a session."""
    return st.one_of(
        st.sampled_from([SESSION_UUID, CANARY_SESSION_UUID, TOPIC_UUID]),
        st.uuids().map(str), weird_name(), st.just(SESSION_UUID.upper()),
    )  # fmt: skip


OPERATORS = ("$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$outside", "$in",
             "$match", "$ex", "$nex")  # fmt: skip
BAD_OPERATORS = ("$regex", "$where", "$EQ", "eq", "", "$", "$and", "$or", "$not")


def glob_pattern() -> st.SearchStrategy[str]:
    """`$match` patterns with few '*' (see the module docstring), and long or odd ones."""
    short = st.text(st.sampled_from("a?#[]!^-/\\.b_é"), max_size=16)
    starred = st.lists(st.sampled_from(["*", "a", "?", "[a-z]", "#", "b"]), max_size=8).map(
        "".join
    )
    return st.one_of(
        short,
        starred.filter(lambda p: p.count("*") <= 3),
        st.sampled_from([f"{SEQ}*", f"*{SEQ}", "[z-a]", "[", "]", "[!]", "[^", "\\", "[a-]", "\x00"]),
        st.builds(lambda u, n: u * n, st.sampled_from(["a", "?", "#", "[a]", "é"]),
                  st.integers(100, 20_000)),  # fmt: skip
    )


def operand(op: str) -> st.SearchStrategy[Any]:
    """An operand that fits ``op`` (roughly), or a hostile one."""
    scalar = st.one_of(st.integers(-10, 10**19), st.floats(allow_nan=False), safe_text, st.booleans())
    fitting = {
        "$between": st.lists(scalar, min_size=2, max_size=2),
        "$outside": st.lists(scalar, min_size=2, max_size=2),
        "$in": st.lists(scalar, min_size=1, max_size=4),
        "$match": glob_pattern(),
        "$ex": st.none(),
        "$nex": st.none(),
    }.get(op, scalar)
    hostile_list = st.lists(ANY_HOSTILE, min_size=1, max_size=2)
    return st.one_of(fitting, ANY_HOSTILE, hostile_list)


def condition() -> st.SearchStrategy[Any]:
    """``{"<op>": operand}``, sometimes with a wrong or a second operator."""
    good = st.sampled_from(OPERATORS).flatmap(lambda op: operand(op).map(lambda v: {op: v}))
    bad = st.builds(lambda op, v: {op: v}, st.sampled_from(BAD_OPERATORS), ANY_HOSTILE)
    two = st.builds(lambda a, b: {**a, **b}, good, good)
    return st.one_of(good, good, bad, two, ANY_HOSTILE)


METADATA_PATHS = ("k", "s", "a.b", "a.b.c", "", ".", "..", "a..b", "x" * 2000, "é.日本", "a[0]", "\x00")


def metadata_filter() -> st.SearchStrategy[Any]:
    """A ``user_metadata`` section: dotted paths to conditions."""
    path = st.one_of(st.sampled_from(METADATA_PATHS), safe_text)
    return st.one_of(st.dictionaries(path, condition(), max_size=3), ANY_HOSTILE)


ONTOLOGY_KEYS = (
    "IMU.acceleration.x", "IMU.acceleration.covariance[2]", "IMU.angular_velocity.covariance[!]",
    "IMU.angular_velocity.covariance[?]", "IMU.header.frame_id", "IMU.timestamp_ns",
    "GPS.status.satellites", "GPS.position.x", "Thing.label", "Thing.value", "IMU", "IMU.",
    ".x", "IMU.acceleration", "IMU.acceleration.covariance", "IMU.acceleration.covariance[-1]",
    "IMU.acceleration.covariance[?][?]", "IMU.acceleration.covariance[", "IMU.nope.x",
    "IMU.acceleration.x.y", "IMU.header.frame_id[0]", "Nope.x", "IMU.acceleration.covariance[1e3]",
)  # fmt: skip


def ontology_key() -> st.SearchStrategy[str]:
    """``Tag.path`` keys: real ones, broken ones, and list indexes of up to 6000 digits."""
    huge_index = st.integers(19, 6000).map(lambda n: f"IMU.acceleration.covariance[{'9' * n}]")
    return st.one_of(st.sampled_from(ONTOLOGY_KEYS), huge_index, weird_name(), safe_text)


def ontology_filter() -> st.SearchStrategy[Any]:
    """An ontology section: ``Tag.path`` keys to conditions."""
    return st.one_of(st.dictionaries(ontology_key(), condition(), max_size=3), ANY_HOSTILE)


def query_body() -> st.SearchStrategy[Any]:
    """A `query` document (spec §8.1) with hostile keys, operators and operands."""
    name = st.sampled_from([SEQ, CANARY, ASEQ, "/imu", "imu", ATOPIC])
    name_cond = st.one_of(
        name.map(lambda n: {"$eq": n}), glob_pattern().map(lambda p: {"$match": p}),
        st.lists(name, min_size=1, max_size=3).map(lambda v: {"$in": v}), condition(),
    )  # fmt: skip
    section_keys = {
        "name": name_cond, "created_at_ns": condition(), "user_metadata": metadata_filter(),
        "ontology_tag": condition(), "serialization_format": condition(), "bogus": condition(),
    }  # fmt: skip
    section = st.one_of(st.fixed_dictionaries({}, optional=section_keys), ANY_HOSTILE)
    return st.fixed_dictionaries(
        {}, optional={"sequence": section, "topic": section, "ontology": ontology_filter(),
                      "extra": ANY_HOSTILE},
    )  # fmt: skip


def window() -> st.SearchStrategy[Any]:
    """A ``timestamp_range``: valid, empty, unbounded, hostile or null."""
    bound = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), ANY_HOSTILE)
    return st.one_of(st.none(), st.fixed_dictionaries({"start_ns": bound, "end_ns": bound}), ANY_HOSTILE)


def clusterize_item(with_range: bool) -> st.SearchStrategy[dict[str, Any]]:
    """One topic of a temporal filter (spec §9)."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "locator": st.one_of(st.sampled_from([CANARY_TOPIC, ATOPIC, TOPIC]), topic_locator(True)),
        "clustering_dt_ns": st.one_of(st.integers(-(2**63), 2**64), ANY_HOSTILE),
        "ontology": st.one_of(st.just({}), ontology_filter()),
    }
    if with_range:
        fields["timestamp_range"] = window()
    return st.fixed_dictionaries(fields)


@functools.cache
def _template(action: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid-looking body of ``action`` (spec §5.4) targeting the example's resources."""
    protected_ok = action not in DELETE_ACTIONS
    seq_loc, topic_loc = seq_locator(protected_ok), topic_locator(protected_ok)
    fmt = st.one_of(st.sampled_from(["default", "ragged", "image"]), safe_text)
    msg = st.one_of(safe_text, long_text(), surrogate_text())
    kind = st.one_of(st.just("error"), safe_text)
    templates: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "info": st.just({}),
        "sequence_create": st.fixed_dictionaries(
            {"locator": st.one_of(st.just(NEWSEQ), st.just(CANARY), weird_name()),
             "user_metadata": metadata()}),  # fmt: skip
        # Not the canary: a new session on it is a legitimate write that changes it.
        "session_create": st.fixed_dictionaries({"locator": seq_locator(False)}),
        "topic_create": st.fixed_dictionaries({
            "session_uuid": session_uuid(),
            "locator": st.one_of(st.sampled_from([f"{SEQ}/new", f"{SEQ}/a/b/c", f"{CANARY}/new",
                                                  TOPIC]), topic_loc),
            "serialization_format": fmt, "ontology_tag": st.one_of(st.just("IMU"), safe_text),
            "user_metadata": metadata()}),  # fmt: skip
        "session_finalize": st.fixed_dictionaries({"session_uuid": session_uuid()}),
        "session_delete": st.fixed_dictionaries(
            {"locator": st.one_of(st.just(SESSION_LOC), st.just(f"{SEQ}:{SESSION_UUID}"),
                                  weird_name())}),  # fmt: skip
        "sequence_delete": st.fixed_dictionaries({"locator": seq_loc}),
        "topic_delete": st.fixed_dictionaries({"locator": topic_loc}),
        "sequence_notification_create": st.fixed_dictionaries(
            {"locator": st.one_of(st.just(SEQ), weird_name()), "notification_type": kind,
             "msg": msg}),  # fmt: skip
        "topic_notification_create": st.fixed_dictionaries(
            {"locator": st.one_of(st.just(TOPIC), weird_name()), "notification_type": kind,
             "msg": msg}),  # fmt: skip
        "sequence_notification_list": st.fixed_dictionaries({"locator": seq_loc}),
        "topic_notification_list": st.fixed_dictionaries({"locator": topic_loc}),
        "sequence_notification_purge": st.fixed_dictionaries({"locator": seq_loc}),
        "topic_notification_purge": st.fixed_dictionaries({"locator": topic_loc}),
        "query": query_body(),
        "topic_filter_clusterize": clusterize_item(with_range=True),
        "topic_filter_intersect": st.fixed_dictionaries({
            "topics": st.one_of(st.lists(clusterize_item(with_range=False), max_size=3),
                                ANY_HOSTILE),
            "intersect_dt_ns": st.one_of(st.integers(-(2**63), 2**64), ANY_HOSTILE)}),  # fmt: skip
    }
    return templates[action]


# -- mutation ----------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position inside nested dicts and lists (the root is ``()``)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, template: Any, family: st.SearchStrategy[Any]) -> Any:
    """``template`` with up to three positions replaced by ``family`` values, maybe a key
    dropped, an unknown key added, or a key repeated."""
    body = template
    for _ in range(draw(st.integers(0, 3))):
        spots = _paths(body)[1:] or [()]  # anew: a replacement may have removed some
        body = _replace(body, draw(st.sampled_from(spots)), draw(family))
    if isinstance(body, dict):
        edit = draw(st.sampled_from(["none", "drop", "add", "dup", "root"]))
        if edit == "drop" and body:
            body = {k: v for k, v in body.items() if k != draw(st.sampled_from(sorted(body)))}
        elif edit == "add":
            body = {**body, draw(st.one_of(safe_text, surrogate_text())): draw(family)}
        elif edit == "dup" and body:
            key = draw(st.sampled_from(sorted(body)))
            body = Dup((*body.items(), (key, draw(family))))
        elif edit == "root":
            body = draw(family)
    return body


def _nest(value: Any, path: tuple[str, ...]) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


# What a stored hostile value is made of, by name (``stored_writes``).
STORED_LEAVES: dict[str, st.SearchStrategy[Any]] = {
    "non_finite": non_finite(),
    "surrogate": surrogate_text(),
    "huge_number": huge_numbers(),
    # Nesting just under the decoder's limit: accepted, then too deep for the reads.
    "near_limit_nesting": st.builds(nested, st.sampled_from(["array", "object"]), st.integers(982, 992)),
    "long_text": long_text(),
}


def stored_value(leaf: str) -> st.SearchStrategy[Any]:
    """A hostile value of kind ``leaf`` inside valid metadata: nested a few levels down, in
    a list, or (for a surrogate) as a key."""
    path = st.lists(st.sampled_from(["a", "b", "sensor", "é"]), max_size=3).map(tuple)
    value = STORED_LEAVES[leaf]
    forms = [st.builds(_nest, value, path), st.builds(lambda v, p: _nest([1, v], p), value, path)]
    if leaf == "surrogate":
        forms.append(surrogate_text().map(lambda raw: Dup(((raw, 1),))))
    return st.one_of(*forms)


def stored_writes(leaf: str) -> st.SearchStrategy[ActionRequest]:
    """Valid writes that store a hostile value of kind ``leaf``: in the metadata of a new
    sequence or topic, or as the message of a notification."""
    meta = stored_value(leaf)
    msg = STORED_LEAVES[leaf] if leaf in ("surrogate", "long_text") else st.just("plain message")
    topic_body = st.fixed_dictionaries({
        "session_uuid": st.just(SESSION_UUID), "locator": st.just(f"{SEQ}/stored"),
        "serialization_format": st.just("default"), "ontology_tag": st.just("Thing"),
        "user_metadata": meta})  # fmt: skip
    return st.one_of(
        st.builds(ActionRequest, st.just("sequence_create"),
                  st.fixed_dictionaries({"locator": st.just(NEWSEQ), "user_metadata": meta})),
        st.builds(ActionRequest, st.just("topic_create"), topic_body),
        st.builds(ActionRequest, st.just("sequence_notification_create"),
                  st.fixed_dictionaries({"locator": st.just(SEQ), "notification_type": st.just("error"),
                                         "msg": msg})),
        st.builds(ActionRequest, st.just("topic_notification_create"),
                  st.fixed_dictionaries({"locator": st.just(TOPIC), "notification_type": st.just("error"),
                                         "msg": msg})),
    )  # fmt: skip


@attrs.frozen
class ActionRequest:
    """One DoAction: its name and its body (a JSON value, or raw bytes)."""

    name: str
    body: Any

    def payload(self) -> bytes:
        """The body on the wire, tokens not yet replaced."""
        return body_bytes(self.body)


UNKNOWN_ACTIONS = ("", "INFO", "info ", " info", "query\x00", "../info", "sequence-create",
                   "DoGet", "list_actions", "é", "x" * 5000, "topic_filter", "session_create2")  # fmt: skip


def action_name() -> st.SearchStrategy[str]:
    """Mostly the names of spec §5.3, sometimes unknown ones."""
    return st.one_of(
        st.sampled_from(ACTIONS), st.sampled_from(ACTIONS),
        st.sampled_from(UNKNOWN_ACTIONS), st.text(SAFE_CHARS, max_size=20),
    )  # fmt: skip


def action_requests(family: str) -> st.SearchStrategy[ActionRequest]:
    """Requests of every action whose bodies are templates mutated with ``family`` values;
    ``"plain"``: the templates as drawn (hostile only where the templates already are)."""
    def build(name: str) -> st.SearchStrategy[ActionRequest]:
        template = _template(name if name in ACTIONS else "query")
        body = template if family == "plain" else template.flatmap(
            lambda t: mutated(t, FAMILIES[family])
        )
        return body.map(lambda b: ActionRequest(name, b))

    return action_name().flatmap(build)


def raw_bytes_body() -> st.SearchStrategy[bytes]:
    """Bodies that are not a JSON object: garbage, non-UTF-8, truncated, BOMs, empty."""
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"", b" ", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf{}", b"{", b"}", b"[]",
                         b"null", b"1", b'"x"', b'{"a":}', b"{'a': 1}", b'{"a":1,}', b"\xc3",
                         b'{"locator": "\xff"}', b'{"locator": "a"} trailing', b"{}{}",
                         b'{"a":1}\x00', b"\xed\xa0\x80"]),  # fmt: skip
        st.integers(1000, 200_000).map(lambda n: b" " * n + b"{}"),
        st.integers(1000, 50_000).map(lambda n: b'{"locator": "' + b"\xff" * n + b'"}'),
    )


def raw_action_requests() -> st.SearchStrategy[ActionRequest]:
    """Any action name with a body that is not a JSON object."""
    return st.builds(ActionRequest, action_name(), raw_bytes_body())


# -- descriptors, tickets, criteria ------------------------------------------------------


@attrs.frozen
class Descriptor:
    """A FlightDescriptor to build: a command (bytes) or a path (segments)."""

    kind: str
    command: Any = None
    path: tuple[Any, ...] = ()

    def payload(self) -> bytes:
        """The command bytes (tokens not yet replaced); empty for a path."""
        return body_bytes(self.command) if self.kind == "cmd" else b""


def resource_command() -> st.SearchStrategy[Any]:
    """GetFlightInfo / GetSchema commands (spec §7.1) with hostile values."""
    loc = st.one_of(
        st.sampled_from([CANARY, CANARY_TOPIC, ASEQ, ATOPIC, SEQ, TOPIC, f"{CANARY}:x",
                         SESSION_LOC, f"{CANARY}/nope", f"/{CANARY_TOPIC}/"]),
        weird_name(),
    )  # fmt: skip
    bound = st.one_of(st.integers(-(2**63), 2**63 - 1), ANY_HOSTILE)
    template = st.fixed_dictionaries(
        {"resource_locator": loc},
        optional={"timestamp_ns_start": bound, "timestamp_ns_end": bound},
    )
    return st.one_of(template, template.flatmap(lambda t: mutated(t, ANY_HOSTILE)))


def descriptors() -> st.SearchStrategy[Descriptor]:
    """Path descriptors, random command bytes, and hostile JSON commands.

    Path segments are text: a segment that is not UTF-8 is refused by the Flight server's
    protobuf parser (INTERNAL, empty message) before any handler of ours runs.
    """
    segment = st.one_of(weird_name(), st.sampled_from([CANARY, CANARY_TOPIC]))
    return st.one_of(
        st.builds(Descriptor, st.just("path"), path=st.lists(segment, max_size=3).map(tuple)),
        st.builds(Descriptor, st.just("cmd"), raw_bytes_body()),
        st.builds(Descriptor, st.just("cmd"), resource_command()),
        st.builds(Descriptor, st.just("cmd"), resource_command()),
    )


@attrs.frozen
class TicketSpec:
    """A ticket to send: one the server issued for a canary topic, tampered by ``how``."""

    how: str
    value: Any = None


def tickets() -> st.SearchStrategy[TicketSpec]:
    """Random bytes, issued tickets with a byte flipped, cut or extended, and ticket JSON
    with hostile values (the server's tickets are JSON, spec §7.5)."""
    ticket_json = st.fixed_dictionaries(
        {"locator": st.one_of(st.sampled_from([CANARY_TOPIC, ATOPIC, TOPIC, CANARY]), weird_name())},
        optional={"start_ns": st.one_of(st.integers(-(2**63), 2**63 - 1), ANY_HOSTILE),
                  "end_ns": st.one_of(st.integers(-(2**63), 2**63 - 1), ANY_HOSTILE),
                  "sig": safe_text},
    )  # fmt: skip
    return st.one_of(
        st.builds(TicketSpec, st.just("issued")),
        st.builds(TicketSpec, st.just("flip"), st.integers(0, 10_000)),
        st.builds(TicketSpec, st.just("cut"), st.integers(0, 200)),
        st.builds(TicketSpec, st.just("append"), raw_bytes_body()),
        st.builds(TicketSpec, st.just("raw"), raw_bytes_body()),
        st.builds(TicketSpec, st.just("json"), ticket_json),
        st.builds(TicketSpec, st.just("json"), ticket_json.flatmap(lambda t: mutated(t, ANY_HOSTILE))),
    )


def criteria() -> st.SearchStrategy[bytes]:
    """ListFlights criteria: the two that mean "all", and anything else."""
    extension = [b'{"totals": true}', b'{"totals": false}', b'{"totals": 1}', b'{"totals": true, "x": 0}']
    return st.one_of(st.sampled_from([b"", b"/", b"//", b"*", b"canary", *extension]), raw_bytes_body())


# -- uploads -------------------------------------------------------------------------------


def _strings(n: int) -> list[str | None]:
    return [None if i % 4 == 3 else f"s{i % 3}" for i in range(n)]


def _floats(n: int) -> list[float | None]:
    pool = [0.5, float("nan"), float("inf"), -float("inf"), -0.0, 1e308, None]
    return [pool[i % len(pool)] for i in range(n)]


def _invalid_utf8(n: int) -> pa.Array:
    data = b"\xff\xfe\xed\xa0\x80" * max(n, 1)
    offsets = pa.array([min(5 * i, len(data)) for i in range(n + 1)], pa.int32())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets.buffers()[1], pa.py_buffer(data)])


def _nested_struct(depth: int, n: int) -> pa.Array:
    array: pa.Array = pa.array(list(range(n)), pa.int32())
    for level in range(depth):
        array = pa.StructArray.from_arrays([array], [f"l{level}"])
    return array


def _union(n: int, mode: str) -> pa.Array:
    types = pa.array([i % 2 for i in range(n)], pa.int8())
    children = [pa.array(list(range(n)), pa.int64()), pa.array(_strings(n), pa.string())]
    if mode == "sparse":
        return pa.UnionArray.from_sparse(types, children)
    offsets = pa.array(list(range(n)), pa.int32())
    return pa.UnionArray.from_dense(types, offsets, children)


def _ree(n: int) -> pa.Array:
    ends = pa.array(list(range(1, n + 1)), pa.int32())
    return pa.RunEndEncodedArray.from_arrays(ends, pa.array(list(range(n)), pa.int64()))


# name -> builder of an n-row column of that kind.
COLUMNS: dict[str, Any] = {
    "float64": lambda n: pa.array(_floats(n), pa.float64()),
    "string": lambda n: pa.array(_strings(n), pa.string()),
    "large_string": lambda n: pa.array(_strings(n), pa.large_string()),
    "string_view": lambda n: pa.array(_strings(n), pa.string_view()),
    "binary_view": lambda n: pa.array([b"b" * (i % 20) for i in range(n)], pa.binary_view()),
    "dictionary": lambda n: pa.array(_strings(n), pa.string()).dictionary_encode(),
    "dictionary_int": lambda n: pa.array([i % 3 for i in range(n)], pa.int64()).dictionary_encode(),
    "invalid_utf8": _invalid_utf8,
    "uint64": lambda n: pa.array([2**64 - 1 - i for i in range(n)], pa.uint64()),
    "float16": lambda n: pa.array([None] * n, pa.float16()),
    "decimal256": lambda n: pa.array([None] * n, pa.decimal256(76, 3)),
    "null": lambda n: pa.nulls(n),
    "bool": lambda n: pa.array([i % 2 == 0 for i in range(n)]),
    "timestamp_tz": lambda n: pa.array(list(range(n)), pa.timestamp("ns", tz="Europe/Rome")),
    "duration": lambda n: pa.array(list(range(n)), pa.duration("ns")),
    "interval": lambda n: pa.array([None] * n, pa.month_day_nano_interval()),
    "time64": lambda n: pa.array(list(range(n)), pa.time64("ns")),
    "list": lambda n: pa.array([[1.0] * (i % 3) for i in range(n)], pa.list_(pa.float64())),
    "large_list": lambda n: pa.array([[1] * (i % 3) for i in range(n)], pa.large_list(pa.int8())),
    "list_view": lambda n: pa.array([[1] * (i % 3) for i in range(n)], pa.list_view(pa.int8())),
    "fixed_list": lambda n: pa.array([[0.0, 1.0, 2.0]] * n, pa.list_(pa.float64(), 3)),
    "map": lambda n: pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
    "struct": lambda n: pa.array([{"x": float(i), "y": None} for i in range(n)],
                                 pa.struct([("x", pa.float64()), ("y", pa.string())])),  # fmt: skip
    "empty_struct": lambda n: pa.array([{}] * n, pa.struct([])),
    "deep_struct": lambda n: _nested_struct(60, n),
    "sparse_union": lambda n: _union(n, "sparse"),
    "dense_union": lambda n: _union(n, "dense"),
    "run_end_encoded": _ree,
}

WEIRD_FIELD_NAMES = ("", "a/b", "..", "../../etc", "a\x00b", "é", "日本", " ", "timestamp_ns",
                     "x" * 5000, "a.b", "[0]", "*")  # fmt: skip

TIMESTAMP_KINDS = ("int64", "nullable", "with_nulls", "int32", "uint64", "string", "timestamp",
                   "missing", "second", "dictionary", "float64")  # fmt: skip


@attrs.frozen
class UploadSpec:
    """A DoPut to build: which descriptor, the timestamp column, the other columns, the
    rows of each batch and how their timestamps run."""

    descriptor: str
    timestamp: str
    columns: tuple[tuple[str, str], ...]  # (field name, COLUMNS kind)
    batches: tuple[int, ...]
    order: str
    schema_metadata: int = 0

    def descriptor_payload(self) -> tuple[str, bytes]:
        """("cmd", command bytes) or ("path", the path segment), tokens not yet replaced."""
        own = {"resource_locator": TOPIC, "topic_uuid": TOPIC_UUID}
        commands: dict[str, Any] = {
            "own": own,
            "wrong_uuid": {**own, "topic_uuid": new_uuid()},
            "other_uuid": {**own, "topic_uuid": CANARY_TOPIC_UUID},
            "canary": {"resource_locator": f"{CANARY}/things", "topic_uuid": CANARY_TOPIC_UUID},
            "not_uuid": {**own, "topic_uuid": "x" * 40},
            "no_uuid": {"resource_locator": TOPIC},
            "garbage": Raw('{"resource_locator": ' + TOPIC),
        }
        if self.descriptor == "path":
            return "path", TOPIC.encode()
        return "cmd", body_bytes(commands[self.descriptor])

    def timestamps(self, n: int) -> list[int]:
        """The ``timestamp_ns`` values of an ``n``-row batch."""
        base = 1_700_000_000_000_000_000
        values = {
            "sorted": [base + i for i in range(n)],
            "reversed": [base + n - i for i in range(n)],
            "duplicates": [base] * n,
            "extremes": [(-(2**63), 2**63 - 1, 0)[i % 3] for i in range(n)],
        }
        return values[self.order]

    def _timestamp_column(self, n: int) -> tuple[pa.Field, pa.Array] | None:
        values = self.timestamps(n)
        kind = self.timestamp
        if kind == "missing":
            return None
        if kind == "with_nulls":
            masked = [None if i == 0 else v for i, v in enumerate(values)]
            return pa.field("timestamp_ns", pa.int64()), pa.array(masked, pa.int64())
        casts = {"int32": pa.int32(), "uint64": pa.uint64(), "float64": pa.float64(),
                 "timestamp": pa.timestamp("ns")}  # fmt: skip
        if kind in casts:
            array = pa.array([v % 2**31 for v in values], pa.int64()).cast(casts[kind])
            return pa.field("timestamp_ns", casts[kind]), array
        if kind == "string":
            return pa.field("timestamp_ns", pa.string()), pa.array([str(v) for v in values])
        array = pa.array(values, pa.int64())
        if kind == "dictionary":
            array = array.dictionary_encode()
        return pa.field("timestamp_ns", array.type, nullable=kind == "nullable"), array

    def build(self) -> tuple[pa.Schema, list[pa.RecordBatch]]:
        """The schema and the batches of the upload."""
        schema: pa.Schema | None = None
        batches = []
        for n in self.batches or (0,):
            pairs = [(pa.field(name, COLUMNS[kind](n).type), COLUMNS[kind](n)) for name, kind in self.columns]
            stamp = self._timestamp_column(n)
            if stamp is not None:
                pairs.insert(1 if self.timestamp == "second" and pairs else 0, stamp)
            schema = pa.schema([f for f, _ in pairs])
            if self.schema_metadata:
                schema = schema.with_metadata({b"m": b"x" * self.schema_metadata})
            batches.append(pa.RecordBatch.from_arrays([a for _, a in pairs], schema=schema))
        assert schema is not None
        return schema, batches if self.batches else []


UPLOAD_KINDS = (*sorted(COLUMNS), "duplicate_name")


def upload_specs(kind: str) -> st.SearchStrategy[UploadSpec]:
    """Uploads of one column of ``kind`` (``COLUMNS``, or ``"duplicate_name"``: two columns
    of one name) under a plain or weird name, mixing a valid topic with hostile
    descriptors and timestamps."""
    field_name = st.one_of(st.just("value"), st.sampled_from(WEIRD_FIELD_NAMES))
    columns: st.SearchStrategy[tuple[tuple[str, str], ...]]
    if kind == "duplicate_name":
        columns = st.just((("value", "float64"), ("value", "string")))
    else:
        columns = field_name.map(lambda name: ((name, kind),))
    others = ["wrong_uuid", "canary", "path", "garbage", "other_uuid", "not_uuid", "no_uuid"]
    # Mostly the example's own topic with rows: what is accepted must then be served back.
    return st.builds(
        UploadSpec,
        descriptor=st.one_of(st.just("own"), st.just("own"), st.sampled_from(others)),
        timestamp=st.one_of(st.just("int64"), st.just("int64"), st.sampled_from(TIMESTAMP_KINDS)),
        columns=columns,
        batches=st.one_of(st.lists(st.integers(1, 40), min_size=1, max_size=3),
                          st.lists(st.integers(0, 3), max_size=2)).map(tuple),  # fmt: skip
        order=st.sampled_from(["sorted", "reversed", "duplicates", "extremes"]),
        schema_metadata=st.sampled_from([0, 0, 100, 100_000]),
    )


def new_uuid() -> str:
    """A fresh UUID text (unknown to the server)."""
    return str(uuid.uuid4())


# -- API keys ----------------------------------------------------------------------------


@attrs.frozen
class KeySpec:
    """Which API key header to send: a configured role's key, or a hostile one."""

    kind: str  # a role of ROLES, "missing", "unknown", "empty", "huge", "non_ascii", "duplicate"
    size: int = 0


def keys() -> st.SearchStrategy[KeySpec]:
    """Keys of every role, missing, unknown, empty, huge (up to 20 KB), non-ASCII, repeated."""
    return st.one_of(
        st.builds(KeySpec, st.sampled_from(["admin", "reader", "writer", "deleter", "none"])),
        st.builds(KeySpec, st.sampled_from(["missing", "unknown", "empty", "non_ascii",
                                            "duplicate", "prefix", "padded"])),  # fmt: skip
        st.builds(KeySpec, st.just("huge"), st.integers(100, 20_000)),
    )


KEYED_CALLS = ("info", "query", "sequence_notification_list", "sequence_create",
               "session_create", "sequence_notification_create", "sequence_delete",
               "topic_notification_purge", "GetFlightInfo", "GetSchema", "DoGet", "ListFlights",
               "DoPut")  # fmt: skip


# -- pathological globs (liveness) -------------------------------------------------------

# Ladders whose neighbouring sizes differ in cost by 10x or more, against the 40-'a'
# strings of the glob target: the small sizes run in milliseconds; the largest, if the
# matcher backtracks (or, for '[', the translation is quadratic), in 10 s or more, so no
# size sits on a liveness bound.
FREEZE_PATTERNS = {
    "star_a": (lambda k: "*a" * k + "*b", (1, 3, 5, 9)),
    "stars": (lambda k: "*" * k + "b", (1, 3, 5, 8)),
    "open_brackets": (lambda k: "[" * k, (10, 300, 8000)),
}
FREEZE_TARGETS = ("sequence.name", "sequence.user_metadata", "topic.name", "topic.user_metadata",
                  "ontology")  # fmt: skip


@attrs.frozen
class FreezeQuery:
    """A query whose `$match` pattern is ``shape`` at ``size``, applied at ``target``."""

    shape: str
    size: int
    target: str

    def pattern(self) -> str:
        """The glob pattern."""
        return str(FREEZE_PATTERNS[self.shape][0](self.size))

    def body(self) -> dict[str, Any]:
        """The query document."""
        cond = {"$match": self.pattern()}
        section, _, key = self.target.partition(".")
        if section == "ontology":
            return {"ontology": {"Thing.label": cond}}
        if key == "user_metadata":
            return {section: {"user_metadata": {"s": cond}}}
        return {section: {"name": cond}}


def freeze_queries(shape: str) -> st.SearchStrategy[FreezeQuery]:
    """Queries with a pathological pattern of ``shape`` on each size of its ladder."""
    return st.builds(
        FreezeQuery, st.just(shape), st.sampled_from(FREEZE_PATTERNS[shape][1]),
        st.sampled_from(FREEZE_TARGETS),
    )  # fmt: skip
