"""Expand: SOURCE arguments (files, prefixes, globs; local or any fsspec URL) -> datasets.

A prefix expands to the dataset files under it, a glob to the files it matches, a file to
itself; each dataset comes with its version (generation, or size and mtime).

Hands to ``run``: :class:`Expansion` records, the datasets of each SOURCE or why it names none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import uris
from ..source import (
    SourceInfo,
    filesystem_and_path,
    info_of,
)

DATASET_SUFFIXES = (".jsonl", ".ndjson")


COMPRESSED_SUFFIXES = ("", ".gz", ".bz2", ".xz", ".zst")


_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Expansion:
    """The datasets one SOURCE argument names, or why it names none."""

    source: str
    datasets: list[SourceInfo] = field(default_factory=list)
    error: str | None = None


def is_dataset_name(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s + c) for s in DATASET_SUFFIXES for c in COMPRESSED_SUFFIXES)


def expand(sources: Sequence[str]) -> list[Expansion]:
    """Each SOURCE as datasets: a file is itself, a prefix the dataset files under it (by
    name: .jsonl or .ndjson, maybe compressed), a glob every file it matches."""
    return [_expand_one(source) for source in sources]


def _expand_one(source: str) -> Expansion:

    try:
        fs, path = filesystem_and_path(source)
        if any(c in path for c in _GLOB_CHARS):
            found = fs.glob(path, detail=True)
            entries = {name: info for name, info in found.items() if info.get("type") == "file"}
        elif fs.isdir(path):
            found = fs.find(path, detail=True)
            entries = {name: info for name, info in found.items() if is_dataset_name(name)}
        else:
            entries = {path: fs.info(path)}
    except Exception as exc:
        from ..source import open_error

        return Expansion(source, error=str(open_error(source, exc)))
    if not entries:
        return Expansion(source, error=f"{source}: matches no dataset")
    protocol = uris.scheme(source)
    datasets = [info_of(_uri(protocol, name), entries[name]) for name in sorted(entries)]
    return Expansion(source, datasets)


def _uri(protocol: str | None, name: str) -> str:
    return name if protocol is None else f"{protocol}://{name}"
