"""Paths: where a dataset's record goes under DEST, one name per URI, always inside DEST.

Hands to ``records``, ``summary``, ``run`` and ``pages``: :func:`record_path`.
"""

from __future__ import annotations

import hashlib

from ..io import uris
from ..io.files import join_path

RECORD_SUFFIX = ".stats.json"

# Record names: characters kept as they are (ASCII), the mark before a name's hash, and limits
# (a file name is at most 255 bytes on common file systems; a GCS object name 1,024 bytes, DEST's
# prefix included).


_SAFE_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=,@ ")


_HASH_MARK = "~"


_HASH_CHARS = 16


MAX_NAME_BYTES = 160  # one directory or file name of a record, before "~hash" and the suffix


MAX_RECORD_BYTES = 512  # a record's whole path under DEST


def record_path(dest: str, uri: str) -> str:
    """Where a dataset's record goes: DEST/<scheme>/<path of the source>.stats.json, always
    inside DEST, one record per URI.

    Local sources go under ``local/`` by their absolute path; ``gs://b/x.jsonl`` under
    ``gs/b/x.jsonl.stats.json``. The path is cut at ``/``; each part keeps letters, digits,
    non-ASCII printable characters and ``-_.+=,@`` and space, everything else is written ``%XX``
    (its UTF-8 bytes). Empty, ``.`` and ``..`` parts are left out, a part longer than
    :data:`MAX_NAME_BYTES` is cut, and a path longer than :data:`MAX_RECORD_BYTES` loses
    directories; whenever one of these changes the name, ``~`` and 16 hex digits of the SHA-256
    of the URI are added to it, so distinct URIs never share a record. Equal sources always map
    to equal names.
    """
    if uris.is_local(uri):
        scheme, rest = "local", uris.absolute(uri)
    else:
        scheme, rest = uris.scheme(uri) or "", uris.after_scheme(uri)
    scheme_name, exact = _record_name(scheme)
    raw = rest.lstrip("/").split("/")  # fsspec ignores the slashes after "://"; so do records
    parts = [part for part in raw if part not in ("", ".", "..")]
    exact = exact and len(parts) == len(raw) and bool(parts)
    names = []
    for part in parts:
        name, whole = _record_name(part)
        names.append(name)
        exact = exact and whole
    last = names.pop() if names else ""
    for whole in (True, False) if exact else (False,):
        tail = RECORD_SUFFIX if whole else f"{_HASH_MARK}{_uri_hash(uri)}{RECORD_SUFFIX}"
        budget = MAX_RECORD_BYTES - _size(scheme_name) - _size(last + tail) - 2
        kept = []
        for name in names:  # leading directories while they fit
            budget -= _size(name) + 1
            if budget < 0:
                break
            kept.append(name)
        if not whole or len(kept) == len(names):
            break
    return join_path(dest, scheme_name, *kept, last + tail)


def _record_name(part: str) -> tuple[str, bool]:
    """One part of a record path, safe in any file system or bucket, and whether it is whole
    (not cut to :data:`MAX_NAME_BYTES`)."""
    pieces, size = [], 0
    for char in part:
        if char in _SAFE_ASCII or (not char.isascii() and char.isprintable()):
            piece = char
        else:  # surrogatepass: lone surrogates too, as bytes no real character has
            piece = "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        size += _size(piece)
        if size > MAX_NAME_BYTES:
            return "".join(pieces), False
        pieces.append(piece)
    return "".join(pieces), True


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _uri_hash(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
