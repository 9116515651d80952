"""URIs: what a source or destination name means, as plain string rules (no fsspec).

- a *plain path* has no scheme at all: ``io.sources`` opens it with ``open`` (the fast path), and
  ``batch`` lists it on this machine. ``::`` in a name without ``://`` is part of the file
  name, never an fsspec chain. A name that starts with ``file:`` (no ``//``) is fsspec's URL for
  a relative path, unless a local file of that very name exists: a path that exists is that
  path (the one look at the file system here);
- a *local* name is on this machine: a plain path, ``file://`` or ``local://``;
- anything else is a remote URL, named by its scheme (``gs``, ``s3``, ``simplecache::gs``...);
- compression is taken from the name, by one table.

Hands to the rest of ``io``, ``batch`` and ``beam``: answers about names (the file system is
asked only whether a ``file:`` name exists).
"""

from __future__ import annotations

import os

LOCAL_SCHEMES = ("file://", "local://")
# Compression by the end of a name (as fsspec's compression table names them).
COMPRESSIONS = ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz"), (".zst", "zstd"))


def is_plain_path(uri: str) -> bool:
    """No scheme at all: a path that ``open`` takes. ``file:x`` is fsspec's URL for ``./x``
    unless ``file:x`` itself exists; a ``file://`` URL is always a URL."""
    if "://" in uri:
        return False
    return not uri.startswith("file:") or os.path.lexists(uri)


def is_local(uri: str) -> bool:
    """On this machine: a plain path, or a ``file://`` / ``local://`` URL."""
    return "://" not in uri or uri.startswith(LOCAL_SCHEMES)


def local_path(uri: str) -> str:
    """The path of a local name, its scheme removed."""
    for scheme in LOCAL_SCHEMES:
        if uri.startswith(scheme):
            return uri.removeprefix(scheme)
    return uri


def scheme(uri: str) -> str | None:
    """The scheme of a remote URL (what comes before ``://``); None for a local name."""
    return None if is_local(uri) else uri.split("://", 1)[0]


def after_scheme(uri: str) -> str:
    """What follows ``://`` (the whole name when there is none)."""
    return uri.split("://", 1)[1] if "://" in uri else uri


def absolute(uri: str) -> str:
    """A local name as an absolute path, its scheme removed."""
    return os.path.abspath(after_scheme(uri))


def compression(uri: str) -> str | None:
    """The compression a name says (``.gz``, ``.bz2``, ``.xz``, ``.zst``), or None."""
    lower = uri.lower()
    return next((name for suffix, name in COMPRESSIONS if lower.endswith(suffix)), None)


def is_utf8(name: str) -> bool:
    """Whether a name is valid Unicode text. A file name that is not UTF-8 reaches Python with
    its bad bytes as lone surrogates (PEP 383), which UTF-8 JSON and Parquet cannot hold."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """A name as valid text: each byte that is not UTF-8 written ``\\xff``, as Python shows
    bytes (a lone surrogate that is no such byte is written ``\\udXXX``)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
