"""Measure: what one media object is, from its bytes (SPEC §9): kind, size, pixels, duration,
audio track, pages.

:func:`~.kinds.sniff` names the kind and container from the first bytes (magic numbers: a
file's name or declared MIME type is not trusted); :func:`measure` then has the container's
reader read only the headers that hold the figures, since the file may be a remote object read
over HTTP ranges. Hands on a :class:`Measurement` to ``read`` and through it to ``rates`` and
``stage``; a figure that could not be taken is ``None`` and ``problem`` says why in words for a
user. Bad bytes never raise; only an ``OSError`` from the file itself does (the caller
classifies I/O errors).

Which reader measures what, and why:

- Images (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC/HEIF/AVIF): ``imagesize``, here; pure Python,
  it seeks from header to header, so a JPEG whose frame header sits after megabytes of EXIF
  costs a few small reads. Sizes are as displayed (EXIF orientation applied: a swap only).
- MP4, MOV, 3GP, M4A: our own walk of the box tree (``mp4``).
- MP3, AAC (ADTS), WAV, AIFF, FLAC, Ogg Vorbis/Opus/FLAC/Speex, ASF (WMA/WMV): ``mutagen``
  (``audio``).
- PDF: ``pypdf``, here: the trailer, cross-reference table, catalog and page-tree root (its
  /Count).
- WebM, Matroska, AVI, FLV, MPEG-PS/TS, Ogg Theora, RF64, and MP4 files whose header has no
  duration (fragmented): PyAV (FFmpeg, ``pyav``), the optional ``tunestats[media]`` extra,
  since nothing lighter reads these containers. Without it the object gets a problem naming the
  extra.

Every reader is given a :class:`~.figures.MediaObject` and hands back
:class:`~.figures.Figures` (``figures``); this module bounds what it may read (the read
budget) and makes a :class:`Measurement` of what it found.

Precision: durations are what the container records, to the microsecond: exact for MP4 and
its kin (mvhd, edit lists applied), WAV, AIFF, FLAC, Ogg (last granule; Opus less its
pre-skip), MP3 with a Xing/Info frame (frame count less encoder delay and padding), Matroska
(milliseconds). Estimates: MP3 without a Xing frame and ADTS AAC (bit rate of the first frames
over the file's size: a few percent), MPEG-PS/TS (FFmpeg's first to last timestamp: within a
frame or two, but poor on tiny video-only files), ASF (play duration less preroll: within an
audio packet of FFmpeg's figure). A file cut short whose header survives (a fast-start MP4, a
WebM) still reports its header's duration; for MP4 with a problem saying it is truncated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from .audio import audio_start, measure_asf, measure_mp3, measure_mutagen
from .figures import BadBytes, Figures, MediaObject, Reader, unreadable
from .kinds import HEAD_BYTES, sniff, sniff_audio_frames
from .mp4 import measure_mp4
from .pyav import measure_with_av

# A damaged or hostile header can send a reader anywhere (pypdf rebuilds a broken xref table
# by reading the whole file): past this many bytes read, the object is given up with a problem.
READ_BUDGET = 64 * 1024 * 1024
# ... or past this many reads (pypdf's rebuild reads a byte at a time: seconds, even buffered).
READ_CALLS_BUDGET = 500_000


@dataclass(frozen=True)
class Measurement:
    """One object as :func:`measure` found it: the figures SPEC §9 prices and limits."""

    size: int  # bytes of the object as stored
    kind: str | None  # one of kinds.KINDS, from the first bytes; None: not a media kind we know
    container: str | None  # what the bytes are ("png", "mp4", "webm", "pdf", ...); None: unknown
    width: int | None = None  # images
    height: int | None = None
    duration: float | None = None  # seconds: audio, video
    has_audio: bool | None = None  # video: whether it has an audio track
    pages: int | None = None  # PDF
    problem: str | None = None  # why a figure §9 needs could not be taken, in words for a user


def measure(f: BinaryIO, size: int) -> Measurement:
    """Measure the seekable binary file ``f`` of ``size`` bytes, reading only what is needed
    (headers; for MP4 the moov atom wherever it is; for PDF the trailer and page tree)."""
    reader = Reader(f, size, READ_BUDGET, READ_CALLS_BUDGET)
    head = reader.read_at(0, min(size, HEAD_BYTES))
    kind, container = sniff(head)
    if container == "mp3" and head.startswith(b"ID3"):
        kind, container = _look_past_id3(reader, size, head)
    if kind is None or container is None:
        return Measurement(size, kind, container)
    obj = MediaObject(reader, size, head, kind, container)
    try:
        figures = _MEASURERS[container](obj)
    except Exception as error:  # a reader's complaint about the bytes, whatever its type
        if reader.io_error is not None:
            raise reader.io_error from error
        figures = Figures(problem=unreadable(container, error))
    if reader.io_error is not None:  # a reader swallowed it, so its figures are not to be trusted
        raise reader.io_error
    if reader.over_budget:
        reason = "its headers are damaged or unusual (measuring it would read too much of it)"
        figures = Figures(problem=unreadable(container, reason))
    if figures.has_video:
        kind = "video"
    elif figures.has_video is False and figures.has_audio:
        kind = "audio"
    return Measurement(
        size=size,
        kind=kind,
        container=container,
        width=figures.width,
        height=figures.height,
        # Microseconds: finer than any container's clock, and no float noise (2.9999999999999996).
        duration=None if figures.duration is None else round(figures.duration, 6),
        has_audio=figures.has_audio if kind == "video" else None,
        pages=figures.pages,
        problem=figures.problem,
    )


def _look_past_id3(reader: Reader, size: int, head: bytes) -> tuple[str, str]:
    """ID3 tags (album art and all) can outgrow the head: look at what follows them."""
    at = audio_start(MediaObject(reader, size, head, "audio", "mp3"))
    rest = head[at : at + 16] if at + 16 <= len(head) else reader.read_at(at, 16)
    if rest.startswith(b"fLaC"):
        return "audio", "flac"
    return "audio", sniff_audio_frames(rest) or "mp3"


def _measure_image(obj: MediaObject) -> Figures:
    import imagesize

    info = imagesize.get_info(obj.reader, dpi=False, colors=False, channels=False)
    if info.width < 0 or info.height < 0:
        return Figures(problem=unreadable(obj.container, "no image size in its header"))
    return Figures(width=info.width, height=info.height)


def _measure_pdf(obj: MediaObject) -> Figures:
    from pypdf import PasswordType, PdfReader

    _quiet("pypdf")
    obj.reader.seek(0)
    # A broken cross-reference table makes pypdf read the whole file to rebuild it: the read
    # budget bounds that.
    pdf = PdfReader(obj.reader, strict=False)
    if pdf.is_encrypted and pdf.decrypt("") == PasswordType.NOT_DECRYPTED:
        return Figures(problem="the PDF is password-protected: its pages cannot be counted")
    try:
        pages = pdf.trailer["/Root"]["/Pages"]
    except (KeyError, TypeError) as error:
        raise BadBytes("no page tree (the catalog has no /Pages)") from error
    # The page tree's root counts every page: no need to visit each page object.
    count = pages.get("/Count")
    count = count.get_object() if count is not None else None
    if not isinstance(count, int) or count < 0:
        count = len(pdf.pages)
    return Figures(pages=int(count))


def _quiet(library: str) -> None:
    """Keep a library's warnings about damaged files off stderr unless the application logs
    them: Python prints records no handler takes ("lastResort"); a NullHandler takes them."""
    logger = logging.getLogger(library)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


_MEASURERS: dict[str, Callable[[MediaObject], Figures]] = {
    **{c: _measure_image for c in ("png", "jpeg", "gif", "webp", "bmp", "tiff", "heic", "heif")},
    "avif": _measure_image,
    **{c: measure_mp4 for c in ("mp4", "mov", "3gp", "m4a")},
    "mp3": measure_mp3,
    "mp2": measure_mp3,
    **{c: measure_mutagen for c in ("aac", "wav", "aiff", "flac", "ogg", "opus")},
    "asf": measure_asf,
    "pdf": _measure_pdf,
    **{c: measure_with_av for c in ("webm", "mkv", "avi", "flv", "mpeg", "ts")},
}
