"""Expand: SOURCE arguments (files, prefixes, globs; local or any fsspec URL) -> datasets.

A prefix expands to the dataset files under it, a glob to the files it matches, a file to
itself; each dataset comes with its version (generation, or size and mtime).

A plain path (:func:`tunestats.io.uris.is_plain_path`, the rule by which ``stats`` opens a name)
is listed on this machine as written: ``::`` and ``file:`` in it are part of the name, and a
path that exists is that file or directory even when it holds glob characters. Files under the
batch's own outputs (DEST, the ``--html`` folder) are never datasets: a rerun must not count
the summary and records of the last one.

Hands to ``run``: :class:`Expansion` records, the datasets of each SOURCE or why it names none.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..io import uris
from ..io.files import filesystem_and_path
from ..io.sources import SourceInfo, info_of

DATASET_SUFFIXES = (".jsonl", ".ndjson")


COMPRESSED_SUFFIXES = ("", ".gz", ".bz2", ".xz", ".zst")


_GLOB_CHARS = "*?["


# Schemes that name the same file system (as fsspec registers them).
_SAME_SCHEME = {"gcs": "gs", "s3a": "s3"}


@dataclass(frozen=True)
class Expansion:
    """The datasets one SOURCE argument names, or why it names none."""

    source: str
    datasets: list[SourceInfo] = field(default_factory=list)
    error: str | None = None


def is_dataset_name(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s + c) for s in DATASET_SUFFIXES for c in COMPRESSED_SUFFIXES)


def expand(sources: Sequence[str], outputs: Sequence[str] = ()) -> list[Expansion]:
    """Each SOURCE as datasets: a file is itself, a prefix the dataset files under it (by
    name: .jsonl or .ndjson, maybe compressed), a glob every file it matches. Files under one
    of ``outputs`` (the batch's DEST and other folders it writes) are left out."""
    return [expand_one(source, outputs) for source in sources]


def expand_one(source: str, outputs: Sequence[str] = ()) -> Expansion:
    """One SOURCE as datasets (see :func:`expand`)."""
    try:
        fs, path = _file_system(source)
        entries = _entries(fs, path, plain=uris.is_plain_path(source))
    except Exception as exc:
        from ..io.files import open_error

        return Expansion(source, error=str(open_error(source, exc)))
    if not entries:
        return Expansion(source, error=f"{source}: matches no dataset")
    protocol = uris.scheme(source)
    datasets = [info_of(_uri(protocol, name), entries[name]) for name in sorted(entries)]
    return without_outputs(Expansion(source, datasets), outputs)


def _file_system(source: str) -> tuple[Any, str]:
    """The file system to list ``source`` in, and its path there. A plain path is made
    absolute as fsspec makes it, without reading ``::`` as a chain or ``file:`` as a scheme."""
    if not uris.is_plain_path(source):
        return filesystem_and_path(source)
    from fsspec.implementations.local import LocalFileSystem, make_path_posix

    return LocalFileSystem(), make_path_posix(source)


def _entries(fs: Any, path: str, plain: bool) -> dict[str, dict[str, Any]]:
    """The files ``path`` names in ``fs``, by name, with fsspec's info of each."""
    if any(c in path for c in _GLOB_CHARS) and not (plain and os.path.lexists(path)):
        found = fs.glob(path, detail=True)
        return {name: info for name, info in found.items() if info.get("type") == "file"}
    if fs.isdir(path):
        found = fs.find(path, detail=True)
        return {name: info for name, info in found.items() if is_dataset_name(name)}
    return {path: fs.info(path)}


def _uri(protocol: str | None, name: str) -> str:
    return name if protocol is None else f"{protocol}://{name}"


# --- the batch's own outputs -----------------------------------------------------------------


def without_outputs(expansion: Expansion, outputs: Sequence[str]) -> Expansion:
    """``expansion`` without the datasets under one of ``outputs`` (folders the batch writes);
    a SOURCE that named nothing else names no dataset, and its error says why."""
    if not outputs or expansion.error is not None:
        return expansion
    real = functools.lru_cache(maxsize=None)(os.path.realpath)  # one look per directory
    folders = [(name, _location(name, real)) for name in outputs if name]
    kept, mine = [], None
    for info in expansion.datasets:
        where = _location(info.uri, real, directory_only=True)
        output = next((name for name, folder in folders if _under(where, folder)), None)
        if output is None:
            kept.append(info)
        else:
            mine = mine or output
    if kept or mine is None:
        return replace(expansion, datasets=kept)
    return Expansion(
        expansion.source,
        error=f"{expansion.source}: names only files under {mine}, where the batch writes its "
        "outputs (a batch never reads them as datasets)",
    )


def _under(where: str, folder: str) -> bool:
    return where == folder or where.startswith(folder.rstrip("/") + "/")


def _location(uri: str, real: Callable[[str], str], directory_only: bool = False) -> str:
    """Where a name is, spelled one way: a local path with links resolved (with
    ``directory_only``, those of its directories only), or ``scheme://path`` for a remote one."""
    scheme = (uris.scheme(uri) or "").split("::")[-1]
    if uris.is_local(uri) or scheme in ("file", "local"):
        path = uris.absolute(uri)
        if not directory_only:
            return real(path)
        head, tail = os.path.split(path)
        return os.path.join(real(head), tail)
    return f"{_SAME_SCHEME.get(scheme, scheme)}://{uris.after_scheme(uri).strip('/')}"
