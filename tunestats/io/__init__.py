"""Bytes in and out: the first stage, and the only one that opens, reads or writes a file.

Takes a name (a local path, ``-``, ``gs://`` or any fsspec URL); hands to ``formats`` blocks of
whole lines with their line numbers, and to every later stage the one way to read or write
bytes. In order:

- ``uris``: what a name is (local, a scheme, a compression suffix) and how it is shown.
- ``files``: file systems (``gs://`` with this machine's options), whole files read
  (:func:`~tunestats.io.files.read_bytes`), paths joined, and errors worded once
  (:class:`~tunestats.io.files.SourceError`).
- ``sniff``: what a source's first bytes say it is when it is not JSONL text.
- ``compression``: gzip, bzip2, xz and zstd streams, read to their proper end.
- ``sources``: a source's version (:class:`~tunestats.io.sources.SourceInfo`), opening it, and
  its byte ranges (:class:`~tunestats.io.sources.Range`, :func:`~tunestats.io.sources.split`).
- ``lines``: blocks of whole lines, streamed; a line too long to hold is handed on unread.
- ``writing``: whole files and streamed destinations, never half a file.
- ``outputs``: the kept and dropped lines of a source (``--write-kept``, ``--write-dropped``).
"""
