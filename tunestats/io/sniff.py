"""Sniffing: what a source's first bytes say it is, when it is not JSONL text.

The first bytes decide (never the name): a compressed stream, a zip archive, a Parquet file,
UTF-16 or UTF-32 text, a CSV or TSV file. A UTF-8 byte order mark is skipped.

Hands to :mod:`tunestats.io.compression` and :mod:`tunestats.io.lines`: :func:`looks_like`
(what the bytes are, and the suffix they should have) and :func:`check_start`.
"""

from __future__ import annotations

from . import uris
from .files import SourceError

_UTF8_BOM = b"\xef\xbb\xbf"


# UTF-32 marks first: the UTF-32-LE mark begins with the UTF-16-LE one.
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


SNIFF_BYTES = 64 << 10


# What a source that is not JSONL text often is instead (CHOICES.md, "Reading"): the first
# bytes decide, so a NUL byte inside a line of text only drops that line.
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed", ".gz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", ".zst"),
    (b"\xfd7zXZ\x00", "xz-compressed", ".xz"),
    (b"PK\x03\x04", "a zip archive", None),
    (b"PK\x05\x06", "a zip archive", None),
    (b"PAR1", "a Parquet file", None),
)


# bzip2: "BZh", the block size, then the magic of a block or of the end of the stream.
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")


# A CSV or TSV file: this many of its first lines, each with at least two fields.
_CSV_LINES = 2


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def zstd_skippable(magic: bytes) -> bool:
    return magic[1:4] == b"\x2a\x4d\x18" and magic[0] & 0xF0 == 0x50


def check_start(uri: str, head: bytes) -> tuple[bytes, int]:
    """Reject a source that is something else than UTF-8 JSONL text; drop a UTF-8 byte-order
    mark.

    Returns the bytes that remain and the offset in the file where they start."""
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise SourceError(f"{uri}: not UTF-8: the file starts with a {name} byte-order mark")
    looks = looks_like(head)
    if looks is not None:
        what, suffix = looks
        if suffix is None:
            fix = _TEXT_FIXES.get(what, "tunestats reads JSONL text")
        elif uri == "-" or uris.compression(uri):  # decompressed once already: it is twice
            fix = f"decompress it first, or give a file named {suffix}"
        else:
            fix = f"name it {suffix}"
        raise SourceError(f"{uri}: not JSONL text: it looks {what}; {fix}")
    if head.startswith(_UTF8_BOM):
        return head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    return head, 0


_CSV = "like CSV (comma-separated values)"


_TSV = "like TSV (tab-separated values)"


_TEXT_FIXES = {
    what: "convert each row to a JSON object, one object per line (JSONL)" for what in (_CSV, _TSV)
}


def looks_like(head: bytes) -> tuple[str, str | None] | None:
    """What the first bytes of a source say it is, when that is not JSONL text: (what, the
    suffix of a compressed file)."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return ("like " + what if what.startswith("a ") else what), suffix
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS:
        return "bzip2-compressed", ".bz2"
    if zstd_skippable(head[:4]):  # zstd data may begin with a skippable frame
        return "zstd-compressed", ".zst"
    sample = head[:64]
    if len(sample) >= 8 and sample[1::2].count(0) == len(sample) // 2 and 0 not in sample[0::2]:
        return "UTF-16-LE encoded (no byte-order mark)", None
    if len(sample) >= 8 and sample[0::2].count(0) == len(sample) // 2 and 0 not in sample[1::2]:
        return "UTF-16-BE encoded (no byte-order mark)", None
    return _delimited(head)


def _delimited(head: bytes) -> tuple[str, None] | None:
    """CSV or TSV: no ``{`` in the first bytes (no JSON object begins there), and the first
    lines (up to 100 that they hold whole, at least two, none a JSON array) have the same
    number of fields, at least two."""
    import csv

    if b"{" in head:
        return None
    cut = head.rfind(b"\n")
    text = head[: cut if cut >= 0 else len(head)].decode("utf-8", "replace")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()][:100]
    if len(lines) < _CSV_LINES or any(line.lstrip().startswith("[") for line in lines):
        return None  # JSON arrays have commas too
    delimiter = "\t" if "\t" in lines[0] else ","
    try:
        widths = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
    except csv.Error:
        return None
    if len(widths) != 1 or widths.pop() < 2:
        return None
    return (_TSV if delimiter == "\t" else _CSV), None
