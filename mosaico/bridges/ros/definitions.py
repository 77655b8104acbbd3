"""Message definitions for recordings that lack them: the user's `.msg`/`.idl` files and
folders (`--msg`), and rosbags' stock stores (`--typestore`).

Where a type's definition comes from, first match wins:

1. the recording's own stored definition (what its messages were serialised with; checked
   against the recorded hash when there is one);
2. the user's `msg` files, for every type the recording does not define, nested types
   included;
3. the `typestore` given for the recording's ROS generation, else the stock store of that
   generation (`STOCK`: ROS 1 Noetic, ROS 2 Humble).

A type found in none of them is *missing*: ingest refuses the recording up front, naming
every missing type and the option that supplies it (`MissingDefinitionsError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg
from rosbags.typesys import get_typestore as rosbags_typestore

from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.typedefs import nested

# Recordings without stored definitions decode with the stock definitions of their ROS
# generation unless `typestore` names another store.
STOCK = {1: Stores.ROS1_NOETIC, 2: Stores.ROS2_HUMBLE}
TYPESTORES = {s.value: s for s in Stores if s is not Stores.EMPTY}
MSG_SOURCE = "msg"  # the label of definitions from the user's files
RECORDING_SOURCE = "recording"

Fielddefs = Mapping[str, Any]  # type name -> rosbags (constants, fields)


def generation(store: Stores) -> int:
    """1 for rosbags' ROS 1 store, 2 for the ROS 2 ones (`latest` included)."""
    return 1 if store.value.startswith("ros1") else 2


def typestores(names: str | Stores | Iterable[str | Stores] | None) -> dict[int, Stores]:
    """The stores named, by ROS generation; at most one per generation.

    Raises:
        RosBridgeError: an unknown store name, or two stores of one generation.
    """
    if names is None:
        return {}
    items = [names] if isinstance(names, (str, Stores)) else list(names)
    out: dict[int, Stores] = {}
    for item in items:
        store = item if isinstance(item, Stores) else TYPESTORES.get(str(item).lower())
        if store is None or store is Stores.EMPTY:
            raise RosBridgeError(
                f"unknown typestore {item!r}; expected one of {', '.join(TYPESTORES)}"
            )
        gen = generation(store)
        if gen in out and out[gen] is not store:
            raise RosBridgeError(
                f"two typestores for ROS {gen}: {out[gen].value} and {store.value}; "
                "give at most one per ROS generation"
            )
        out[gen] = store
    return out


def _msg_type(file: Path) -> str:
    """`pkg/msg/Name.msg` -> `pkg/msg/Name`."""
    if file.parent.name != "msg" or not file.parent.parent.name:
        raise RosBridgeError(
            f"{file}: cannot tell the package of this .msg file; lay .msg files out as "
            "PKG/msg/NAME.msg"
        )
    return f"{file.parent.parent.name}/msg/{file.stem}"


def _parse_file(file: Path) -> dict[str, Any]:
    """The types one `.msg` or `.idl` file defines."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise RosBridgeError(f"{file}: cannot read: {exc}") from None
    try:
        if file.suffix == ".idl":
            return dict(get_types_from_idl(text))
        return dict(get_types_from_msg(text, _msg_type(file)))
    except (TypesysError, ValueError, KeyError, IndexError) as exc:
        raise RosBridgeError(f"{file}: not a valid message definition: {exc}") from None


def _definition_files(path: Path) -> list[Path]:
    """The definition files `path` names: itself, or every `.msg` and `.idl` file under a
    folder (an `.idl` next to the `.msg` it was generated from is left out)."""
    if path.is_file():
        if path.suffix not in (".msg", ".idl"):
            raise RosBridgeError(f"{path}: expected a .msg or .idl file, or a folder of them")
        return [path]
    if not path.is_dir():
        raise RosBridgeError(f"{path}: no such file or directory (given as a message definition)")
    msgs = sorted(path.rglob("*.msg"))
    idls = [p for p in sorted(path.rglob("*.idl")) if not p.with_suffix(".msg").is_file()]
    if not msgs and not idls:
        raise RosBridgeError(f"{path}: no .msg or .idl file in this folder")
    return msgs + idls


def load_definitions(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Every type the `.msg`/`.idl` files and folders in `paths` define.

    A `.msg` file names its type by where it lies, `PKG/msg/NAME.msg`; an `.idl` file by
    its modules.

    Raises:
        RosBridgeError: a path that does not exist or holds no definition, a `.msg` file
            outside a `msg` folder, a file that does not parse, or one type defined
            differently by two files.
    """
    types: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for path in map(Path, paths):
        for file in _definition_files(path):
            for name, fielddef in _parse_file(file).items():
                if name in types and types[name] != fielddef:
                    raise RosBridgeError(
                        f"{name} is defined differently by {origin[name]} and {file}"
                    )
                types.setdefault(name, fielddef)
                origin.setdefault(name, file)
    return types


class Definitions:
    """The definitions a recording may draw on beyond its own: the user's files (`msg`)
    and the stores (`typestore`, one per ROS generation; `STOCK` by default).

    Raises:
        RosBridgeError: see `load_definitions` and `typestores`.

    >>> defs = Definitions(msg=["src/my_robot"], typestore="ros2_foxy")
    >>> [label for label, _ in defs.layers(2)]
    ['msg', 'ros2_foxy']
    """

    def __init__(
        self,
        msg: Sequence[str | Path] = (),
        typestore: str | Stores | Iterable[str | Stores] | None = None,
    ) -> None:
        self.user = load_definitions(msg)
        self.stores = {**STOCK, **typestores(typestore)}
        self._loaded: dict[Stores, Fielddefs] = {}

    def layers(self, ros_version: int) -> list[tuple[str, Fielddefs]]:
        """(label, definitions) in the order they are consulted for a recording."""
        store = self.stores[ros_version]
        if store not in self._loaded:
            self._loaded[store] = _StoreDefinitions(store)
        return [(MSG_SOURCE, self.user), (store.value, self._loaded[store])]


class _StoreDefinitions(Mapping[str, Any]):
    """A rosbags store's definitions, loaded on the first lookup: building a store costs
    ~0.1 s, and a recording that defines its own types never looks."""

    def __init__(self, store: Stores) -> None:
        self._store = store
        self._defs: Fielddefs | None = None

    def _load(self) -> Fielddefs:
        if self._defs is None:
            self._defs = rosbags_typestore(self._store).fielddefs
        return self._defs

    def __getitem__(self, name: str) -> Any:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def resolve(
    have: Fielddefs, msgtype: str, layers: Sequence[tuple[str, Fielddefs]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, str | None]]:
    """What `msgtype` still needs so that it and every type it nests are defined.

    Types in `have` are used as they are; the others are taken from the first layer that
    defines them. Returns the definitions to add, the layer label of each, and the types
    no layer defines, each with the type that nests it (None for `msgtype` itself).
    """
    add: dict[str, Any] = {}
    source: dict[str, str] = {}
    missing: dict[str, str | None] = {}
    seen: set[str] = set()
    todo: list[tuple[str, str | None]] = [(msgtype, None)]
    while todo:
        name, parent = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        fielddef = have.get(name)
        if fielddef is None:
            found = next(((label, defs[name]) for label, defs in layers if name in defs), None)
            if found is None:
                missing[name] = parent
                continue
            source[name], fielddef = found
            add[name] = fielddef
        todo.extend((child, name) for child in nested(fielddef))
    return add, source, missing


class MissingDefinitionsError(RosBridgeError):
    """Selected topics whose message types (or types they nest) have no definition.

    `missing` maps each type to the ROS topics that need it, `nested_in` a nested type to
    the type that holds it.
    """

    def __init__(self, missing: Mapping[str, Sequence[str]], nested_in: Mapping[str, str]):
        self.missing = {t: sorted(set(topics)) for t, topics in sorted(missing.items())}
        self.nested_in = dict(nested_in)
        lines = []
        for name, topics in self.missing.items():
            where = f"nested in {nested_in[name]}; " if name in nested_in else ""
            lines.append(f"  {name} ({where}{'topic' if len(topics) == 1 else 'topics'} "
                         f"{', '.join(topics)})")  # fmt: skip
        topics = sorted({t for ts in self.missing.values() for t in ts})
        count = len(self.missing)
        super().__init__(
            f"no message definition for {count} type{'s' if count > 1 else ''} of the "
            "selected topics (the recording stores none for them):\n"
            + "\n".join(lines)
            + "\nsupply them with --msg PATH (a .msg or .idl file, or a folder of "
            "PKG/msg/NAME.msg files; msg= in Python), standard ROS types with --typestore "
            "NAME (ros1_noetic, ros2_foxy, ros2_humble, ...; typestore= in Python), or "
            f"leave the topics out with --topics '{','.join('!' + t for t in topics)}'"
        )
