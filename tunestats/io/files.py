"""Files: file systems, and bytes read and written whole, with errors worded once.

fsspec opens anything (local paths, ``gs://``, ``memory://`` ...); ``gs://`` gets the options
of this machine (a storage emulator's endpoint, anonymous, when ``STORAGE_EMULATOR_HOST`` is
set). Every failure to open or read becomes a :class:`SourceError` with a one-line message.

Hands to the other stages: :func:`filesystem_and_path`, :func:`read_bytes`, :func:`join_path`,
and the wording of errors (:func:`open_error`, :func:`first_line`); writing is
:mod:`tunestats.io.writing`'s.
"""

from __future__ import annotations

import functools
import lzma
import os
import zlib
from typing import Any

from . import uris

BLOCK_SIZE = 1 << 19


class SourceError(Exception):
    """The source as a whole cannot be used (missing, unreadable, corrupt, not JSONL)."""


def fsspec_module() -> Any:
    """fsspec, imported only for URLs: a local run need not pay for it."""
    # gcsfs reads this when imported; its default probes every bucket for a zonal or
    # hierarchical layout, with a credentials lookup of its own each time, and waits about
    # 60 s for emulators that do not serve it (CHOICES.md). Plain reads need none of it.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import fsspec

    return fsspec


def filesystem(uri: str, **options: Any) -> Any:
    return filesystem_and_path(uri, **options)[0]


def filesystem_and_path(uri: str, **options: Any) -> tuple[Any, str]:
    """fsspec's file system for ``uri`` and the path within it (``url_to_fs``)."""
    if is_gcs(uri):
        options = {**gcs_options(uri), **options}
    return fsspec_module().core.url_to_fs(uri, **options)


def gcs_options(uri: str) -> dict[str, Any]:
    """gcsfs options for ``uri``, after the checks that fail at once instead of retrying for a
    minute (CHOICES.md, "Cloud Storage"): the endpoint's host name must resolve (no network
    is not a transient fault), and credentials that exist must refresh (an authentication
    failure is not either). Without any credentials, access is anonymous (public buckets).

    With ``STORAGE_EMULATOR_HOST`` set, that endpoint is the only one reached, anonymously:
    no credentials are looked up, so neither the metadata server nor any Google host is
    asked (CHOICES.md, "What tunestats contacts")."""
    try:
        return dict(_gcs_options(emulator_endpoint()))
    except _Unreachable as exc:
        raise SourceError(f"{uri}: {exc}") from None


def emulator_endpoint() -> str | None:
    """The local Cloud Storage server that ``STORAGE_EMULATOR_HOST`` names, as a URL (the
    scheme defaults to http, as Google's clients and gcsfs read it), or None."""
    value = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if value in ("", "default"):  # gcsfs reads "default" as unset too
        return None
    return value.rstrip("/") if "://" in value else f"http://{value.rstrip('/')}"


class _Unreachable(Exception):
    pass


@functools.cache
def _gcs_options(emulator: str | None) -> tuple[tuple[str, Any], ...]:
    import socket
    from urllib.parse import urlsplit

    host = _GCS_HOST
    try:
        if emulator:
            endpoint = urlsplit(emulator)
            host = endpoint.hostname or emulator
            port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        else:
            port = 443
        socket.getaddrinfo(host, port)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise _Unreachable(f"cannot reach {host}: {exc} (no network, or no DNS?)") from None
    if emulator:
        # Anonymous, at that endpoint: gcsfs's default would ask google-auth for
        # credentials, which probes the metadata server (169.254.169.254) first.
        return (("token", "anon"), ("endpoint_url", emulator))
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, _ = google.auth.default(scopes=[_READ_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        return (("token", "anon"),)
    try:
        credentials.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise _Unreachable(f"not authenticated: Google credentials do not refresh: {exc}") from None
    return ()


_GCS_HOST = "storage.googleapis.com"


_READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"


def is_gcs(uri: str) -> bool:
    return uri.startswith(("gs://", "gcs://"))


def open_error(uri: str, exc: BaseException) -> SourceError:
    """One line that says what is wrong with opening ``uri``."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, FileNotFoundError):
        if is_gcs(uri) and not _bucket_exists(uri):
            return SourceError(f"{uri}: no such bucket: {_bucket(uri)}")
        return SourceError(f"{uri}: no such file or object")
    if isinstance(exc, PermissionError) or "Forbidden" in str(exc) or _http_code(exc) == 403:
        return SourceError(f"{uri}: access denied: {first_line(exc)}")
    if _http_code(exc) == 401:
        return SourceError(f"{uri}: not authenticated (check the credentials): {first_line(exc)}")
    if isinstance(exc, IsADirectoryError):
        return SourceError(f"{uri}: is a directory, not a file")
    if isinstance(exc, (OSError, ValueError, ImportError)):
        return SourceError(f"{uri}: cannot open: {first_line(exc)}")
    return SourceError(f"{uri}: cannot open: {type(exc).__name__}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """An error's message in one line (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _http_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _bucket(uri: str) -> str:
    return uris.after_scheme(uri).split("/", 1)[0]


def _bucket_exists(uri: str) -> bool:
    try:
        return bool(filesystem(uri).exists(_bucket(uri)))
    except Exception:  # the question is only asked to word an error: assume it exists
        return True


# Errors that decompressors and file systems raise on corrupt or unreadable data.
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)


def read_errors(uri: str) -> tuple[type[BaseException], ...]:
    if not uris.is_plain_path(uri) and uri != "-":
        # Remote file systems raise their own types (HTTP, connection, auth errors) once
        # their retries are spent; each ends the source with a one-line message.
        return (Exception,)
    if uris.compression(uri) != "zstd" and uri != "-":
        return _READ_ERRORS
    import zstandard

    return (*_READ_ERRORS, zstandard.ZstdError)


def read_error(uri: str, exc: BaseException) -> SourceError:
    if uris.is_plain_path(uri) or uri == "-":
        return SourceError(f"{uri}: cannot read (corrupt or wrong compression?): {exc}")
    if isinstance(exc, FileNotFoundError):
        return SourceError(f"{uri}: changed while it was read: this generation is gone")
    if isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)) or "zstd" in type(exc).__name__:
        return SourceError(f"{uri}: cannot read (corrupt or wrong compression?): {exc}")
    return SourceError(f"{uri}: cannot read: {type(exc).__name__}: {first_line(exc)}")


# The kernel's own file systems: their "regular files" are the process's environment, memory
# maps, hardware state. A server of ours reads none of them (the emulator's datasets, media).
SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def system_dir(real: str) -> str | None:
    """The system directory (:data:`SYSTEM_DIRS`) that the resolved path ``real`` is in."""
    return next((d for d in SYSTEM_DIRS if real == d or real.startswith(d + "/")), None)


def read_bytes(path: str) -> bytes:
    """A whole file's bytes, local or through fsspec."""
    if uris.is_local(path):
        with open(uris.local_path(path), "rb") as f:
            return f.read()
    fs, inner = filesystem_and_path(path)
    return fs.cat_file(inner)


def join_path(folder: str, *parts: str) -> str:
    """``folder/part/...`` with "/" for any file system; an empty folder is the working
    directory, never the root."""
    base = folder.rstrip("/")
    if not base and not folder:
        base = "."
    return "/".join([base, *parts])
