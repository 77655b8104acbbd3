"""Extract the standard types of the ontology spec into standard_types.json.

Usage: python tests/spec/extract_spec.py /path/to/spec/ontology.md
Writes tests/spec/standard_types.json next to this script. Throwaway-simple on purpose: it
relies on the table layout of the spec (§6 overview, §7 per-type tables, Appendix A).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

UNIT = re.compile(r"\s*\[([^\[\],]+)\]")  # "[m/s²]"; "[min_range, max_range]" is no unit
UNIT_GROUP = re.compile(r"\s*\[[^\[\],]+\](?:\s+or\s+\[[^\[\],]+\])*")  # "[rad] or [m]"


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_rows(lines: list[str], heading: str, next_heading: str) -> Iterator[list[str]]:
    """The cells of the backticked table rows between ``heading`` and ``next_heading``."""
    for line in lines[lines.index(heading) :]:
        if line.startswith(next_heading):
            return
        if line.startswith("| `"):
            yield cells(line)


def untick(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip()


def meaning_parts(meaning: str) -> tuple[str, list[str], str | None]:
    """(description without unit brackets, units in order, unit string for metadata)."""
    text = untick(meaning)
    units = UNIT.findall(text)
    description = UNIT_GROUP.sub("", text)
    if not units:
        return description, [], None
    between = [m for m in re.split(r"\[[^\[\],]+\]", text)[1:-1]]
    joiner = " or " if all(b.strip() == "or" for b in between) else ", "
    return description, units, joiner.join(units)


def type_section(lines: list[str], i: int, tag: str, section: str | None) -> tuple[dict, int]:
    """The type documented at ``lines[i]`` (``#### `Tag` ``), and the line after its table."""
    head = lines[i + 2]
    hm = re.match(
        r"Tag `(\w+)` · serialization format `(\w+)` · fingerprint `([0-9a-f]{10})` · "
        r"mixins: (.*)$",
        head,
    )
    assert hm and hm.group(1) == tag, head
    description = untick(lines[i + 4])
    j = i + 6
    assert lines[j].startswith("| # |"), lines[j]
    j += 2
    fields = []
    while j < len(lines) and lines[j].startswith("|"):
        c = cells(lines[j])
        desc, units, unit = meaning_parts(c[5])
        fields.append(
            {
                "name": untick(c[1]),
                "arrow": untick(c[2]),
                "nullable": {"yes": True, "no": False}[untick(c[3])],
                "from": untick(c[4]),
                "description": desc,
                "units": units,
                "unit": unit,
            }
        )
        j += 1
    entry = {
        "tag": tag,
        "section": section,
        "description": description,
        "fields": fields,
        "_head": (hm.group(2), hm.group(3), hm.group(4)),
    }
    return entry, j


def main(spec_path: str) -> None:
    lines = Path(spec_path).read_text(encoding="utf-8").splitlines()
    text = "\n".join(lines)

    # §6 overview: tag -> (format, fingerprint)
    overview: dict[str, tuple[str, str]] = {}
    for c in table_rows(lines, "## 6. Overview of the registered types", "## 7."):
        overview[untick(c[0])] = (untick(c[2]), untick(c[6]))

    # Appendix A: tag -> struct string
    structs = dict(re.findall(r"\*\*`(\w+)`\*\* \(`[0-9a-f]{10}`\)\n\n```\n(.*?)\n```", text, re.S))

    types: list[dict] = []
    # §7.1 scalar wrappers
    for c in table_rows(lines, "### 7.1 Base scalar wrappers", "### 7.2"):
        tag = untick(c[0])
        types.append(
            {
                "tag": tag,
                "section": "7.1",
                "description": None,
                "fields": [
                    {
                        "name": "data",
                        "arrow": untick(c[1]),
                        "nullable": untick(c[2]) == "yes",
                        "from": "own",
                        "description": None,
                        "units": [],
                        "unit": None,
                    }
                ],
                "_fingerprint_71": untick(c[3]),
            }
        )

    # §7.2 .. §7.11 per-type sections
    i = lines.index("### 7.2 Time types")
    end = lines.index("## 8. Value constraints, conventions and enumerations")
    section = None
    while i < end:
        line = lines[i]
        if line.startswith("### 7."):
            section = line.split()[1]
        m = re.match(r"#### `(\w+)`$", line)
        if m:
            entry, i = type_section(lines, i, m.group(1), section)
            types.append(entry)
            continue
        i += 1

    out = []
    for t in types:
        tag = t["tag"]
        fmt, fp = overview[tag]
        if "_head" in t:
            assert t["_head"][:2] == (fmt, fp), (tag, t["_head"], fmt, fp)
        else:
            assert t["_fingerprint_71"] == fp, tag
        struct = structs[tag]
        assert hashlib.sha1(struct.encode()).hexdigest()[:10] == fp, tag
        out.append(
            {
                "tag": tag,
                "section": t["section"],
                "serialization_format": fmt,
                "fingerprint": fp,
                "description": t["description"],
                "struct": struct,
                "fields": t["fields"],
            }
        )
    assert len(out) == len(overview) == len(structs) == 59, (len(out), len(overview), len(structs))
    assert [t["tag"] for t in out] == list(overview), "section order differs from §6"
    dest = Path(__file__).with_name("standard_types.json")
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} types to {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/spec/extract_spec.py <path to spec ontology.md>")
    main(sys.argv[1])
