"""Measure: what one media object is, from its bytes (SPEC §9): kind, size, pixels, duration,
audio track, pages.

:func:`sniff` names the kind and container from the first bytes (magic numbers: a file's name
or declared MIME type is not trusted); :func:`measure` then reads only the headers that hold
the figures, since the file may be a remote object read over HTTP ranges. Hands on a
:class:`Measurement` to the media tokens and limits stages; a figure that could not be taken
is ``None`` and ``problem`` says why in words for a user. Bad bytes never raise; only an
``OSError`` from the file itself does (the caller classifies I/O errors).

Which reader measures what, and why:

- Images (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC/HEIF/AVIF): ``imagesize``, pure Python; it
  seeks from header to header, so a JPEG whose frame header sits after megabytes of EXIF costs
  a few small reads. Sizes are as displayed (EXIF orientation applied: a swap only).
- MP4, MOV, 3GP, M4A: our own walk of the box tree (:func:`_measure_mp4`): the movie header
  (mvhd) holds the movie's duration and each track's handler (hdlr) says audio or video; a
  dozen small reads wherever moov is. mutagen's MP4 reader reports the audio track's length,
  not the movie's, and does not look at video tracks.
- MP3, AAC (ADTS), WAV, AIFF, FLAC, Ogg Vorbis/Opus/FLAC/Speex, ASF (WMA/WMV): ``mutagen``,
  pure Python, reading headers (and for Ogg the last page). ASF's track types come from its
  header's stream properties, read here.
- PDF: ``pypdf``: the trailer, cross-reference table, catalog and page-tree root (its /Count).
- WebM, Matroska, AVI, FLV, MPEG-PS/TS, Ogg Theora, RF64, and MP4 files whose header has no
  duration (fragmented): PyAV (FFmpeg), the optional ``tunestats[media]`` extra, since nothing
  lighter reads these containers. Without it the object gets a problem naming the extra.

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

import io
import logging
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

KINDS = ("image", "audio", "video", "pdf")

HEAD_BYTES = 64 * 1024  # how much of an object sniff() needs at most

# A damaged or hostile header can send a reader anywhere (pypdf rebuilds a broken xref table
# by reading the whole file): past this many bytes read, the object is given up with a problem.
READ_BUDGET = 64 * 1024 * 1024
# ... or past this many reads (pypdf's rebuild reads a byte at a time: seconds, even buffered).
READ_CALLS_BUDGET = 500_000


@dataclass(frozen=True)
class Measurement:
    size: int  # bytes of the object as stored
    kind: str | None  # one of KINDS, from the first bytes; None: not a media kind we know
    container: str | None  # what the bytes are ("png", "mp4", "webm", "pdf", ...); None: unknown
    width: int | None = None  # images
    height: int | None = None
    duration: float | None = None  # seconds: audio, video
    has_audio: bool | None = None  # video: whether it has an audio track
    pages: int | None = None  # PDF
    problem: str | None = None  # why a figure §9 needs could not be taken, in words for a user


# --- sniff: kind and container from the first bytes ----------------------------------------------

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
# QuickTime files from before ftyp start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot", b"free", b"skip"}
_ASF_GUID = uuid.UUID("75B22630-668E-11CF-A6D9-00AA0062CE6C").bytes_le

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)


def sniff(head: bytes) -> tuple[str | None, str | None]:
    """(kind, container) from an object's first bytes (magic numbers).

    The kind of containers that carry either sound or pictures (MP4, Matroska, ...) is "video"
    here; :func:`measure` makes it "audio" when the file has no video track.
    """
    for magic, container in _IMAGE_MAGIC:
        if head.startswith(magic):
            return "image", container
    riff = _sniff_riff(head)
    if riff != (None, None):
        return riff
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head.startswith(b"ID3"):
        return _sniff_after_id3(head)
    audio = _sniff_audio_frames(head)
    if audio is not None:
        return "audio", audio
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if head.startswith(b"OggS"):
        return _sniff_ogg(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", _ebml_doctype(head)
    if head.startswith(b"FLV\x01") and len(head) >= 5:
        # The header's flags say which tracks follow: 0x04 audio, 0x01 video.
        return ("audio" if head[4] & 0x05 == 0x04 else "video"), "flv"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video", "mpeg"  # program stream, or an MPEG video elementary stream
    if _is_transport_stream(head):
        return "video", "ts"
    if head.startswith(_ASF_GUID):
        return "video", "asf"
    if head.startswith(b"BM") and _is_bmp(head):
        return "image", "bmp"
    if b"%PDF-" in head[:1024]:  # readers accept a few junk bytes before the header
        return "pdf", "pdf"
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS and struct.unpack(">I", head[:4])[0] >= 8:
        return "video", "mov"
    return None, None


def _sniff_riff(head: bytes) -> tuple[str | None, str | None]:
    form, tag = head[:4], head[8:12]
    if form == b"RIFF":
        return {
            b"WEBP": ("image", "webp"),
            b"WAVE": ("audio", "wav"),
            b"AVI ": ("video", "avi"),
        }.get(tag, (None, None))
    if form in (b"RF64", b"BW64") and tag == b"WAVE":
        return "audio", "wav"
    if form == b"FORM" and tag in (b"AIFF", b"AIFC"):
        return "audio", "aiff"
    return None, None


def _sniff_ftyp(head: bytes) -> tuple[str | None, str | None]:
    major = head[8:12]
    (box_size,) = struct.unpack(">I", head[:4])
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _HEIC_BRANDS:
        return "image", "heic"
    if major in _AVIF_BRANDS:
        return "image", "avif"
    if major in _HEIF_BRANDS:
        if compatible & _HEIC_BRANDS:
            return "image", "heic"
        return "image", ("avif" if compatible & _AVIF_BRANDS else "heif")
    if major == b"crx ":
        return None, None  # Canon raw photos: ISO boxes, but no media kind we measure
    if major == b"qt  ":
        return "video", "mov"
    if major.startswith(b"3g"):
        return "video", "3gp"
    if major in _M4A_BRANDS:
        return "audio", "m4a"
    return "video", "mp4"


def _id3_end(data: bytes, at: int = 0) -> int | None:
    """Where the ID3v2 tag starting at ``at`` ends, or None when there is none."""
    header = data[at : at + 10]
    if len(header) < 10 or not header.startswith(b"ID3") or any(b & 0x80 for b in header[6:10]):
        return None
    size = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    footer = 10 if header[5] & 0x10 else 0
    return at + 10 + size + footer


def _sniff_after_id3(head: bytes) -> tuple[str | None, str | None]:
    """An ID3 tag says audio; what follows it says which (MP3 unless we can see otherwise)."""
    at = 0
    while (end := _id3_end(head, at)) is not None:
        at = end
    rest = head[at : at + 16]
    if rest.startswith(b"fLaC"):
        return "audio", "flac"
    return "audio", _sniff_audio_frames(rest) or "mp3"


_MPEG_LAYERS = {1: "mp3", 2: "mp2", 3: "mp2"}  # layer bits 01 = III, 10 = II, 11 = I


def _sniff_audio_frames(head: bytes) -> str | None:
    """An MPEG audio or ADTS frame header at the start."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] & 0xF6 == 0xF0:  # 12-bit sync, layer 00: ADTS
        return "aac"
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate == 0xF or rate == 3:  # reserved values
        return None
    return _MPEG_LAYERS[layer]


def _ogg_first_page(head: bytes) -> bytes:
    """The first Ogg page: the first stream's first packet, which names its codec."""
    page_end = 27 + (head[26] if len(head) > 26 else 0)
    return head[: page_end + sum(head[27:page_end])]


def _sniff_ogg(head: bytes) -> tuple[str | None, str | None]:
    first_page = _ogg_first_page(head)
    if b"OpusHead" in first_page:
        return "audio", "opus"
    if b"\x80theora" in first_page:
        return "video", "ogg"
    return "audio", "ogg"


def _read_vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``at``: (value, end), or None when cut short."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        return None
    value = data[at] if keep_marker else data[at] & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    return value, at + length


def _ebml_doctype(head: bytes) -> str:
    """'webm' or 'mkv', from the DocType element of the EBML header."""
    header_size = _read_vint(head, 4, keep_marker=False)
    if header_size is None:
        return "mkv"
    size, at = header_size
    end = min(at + size, len(head))
    while at < end:
        element = _read_vint(head, at, keep_marker=True)
        if element is None:
            break
        element_id, at = element
        length = _read_vint(head, at, keep_marker=False)
        if length is None:
            break
        size, at = length
        if element_id == 0x4282:
            return "webm" if head[at : at + size].rstrip(b"\0") == b"webm" else "mkv"
        at += size
    return "mkv"


def _is_transport_stream(head: bytes) -> bool:
    for offset, stride in ((0, 188), (4, 192)):  # plain TS; M2TS puts a 4-byte timecode first
        syncs = range(offset, min(len(head), offset + 5 * stride), stride)
        if len(syncs) >= 2 and all(head[i] == 0x47 for i in syncs):
            return True
    return False


def _is_bmp(head: bytes) -> bool:
    # "BM" alone starts plenty of text: the DIB header's size field must be a known one.
    return len(head) >= 18 and struct.unpack("<I", head[14:18])[0] in (12, 40, 52, 56, 64, 108, 124)


# --- reading the file ----------------------------------------------------------------------------


class _OverBudget(Exception):
    pass


class _Bad(Exception):
    """The bytes are not what their container says; the message is for a user."""


class _Reader(io.RawIOBase):
    """The caller's file, as the readers see it: notes any OSError the file itself raises (the
    readers turn some into their own errors) and stops a reader that wanders past the budget."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        super().__init__()
        self._f = f
        self._size = size
        self.bytes_read = 0
        self.reads = 0
        self.io_error: OSError | None = None
        self.over_budget = False

    def _file(self, call: Callable[[], object]) -> object:
        try:
            return call()
        except OSError as error:
            self.io_error = self.io_error or error
            raise

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = max(0, self._size - self.tell())
        self.reads += 1
        if self.bytes_read + n > READ_BUDGET or self.reads > READ_CALLS_BUDGET:
            self.over_budget = True
            raise _OverBudget("over the read budget")
        data = self._file(lambda: self._f.read(n))
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file(lambda: self._f.seek(offset, whence))

    def tell(self) -> int:
        return self._file(self._f.tell)

    def read_at(self, offset: int, n: int) -> bytes:
        self.seek(offset)
        return self.read(n)

    def close(self) -> None:
        pass  # the caller's file stays open: readers close what they are given


@dataclass(frozen=True)
class _Object:
    reader: _Reader
    size: int
    head: bytes
    kind: str
    container: str


@dataclass(frozen=True)
class _Figures:
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    pages: int | None = None
    problem: str | None = None


_LABELS = {
    "jpeg": "JPEG",
    "webp": "WebP",
    "mov": "QuickTime movie",
    "ogg": "Ogg",
    "opus": "Opus",
    "webm": "WebM",
    "mkv": "Matroska",
    "mpeg": "MPEG",
    "ts": "MPEG-TS",
}
_EXTENSIONS = {"mpeg": "mpg", "asf": "wmv"}


def _label(container: str) -> str:
    return _LABELS.get(container, container.upper())


def _unreadable(container: str, reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:  # PyAV's: "[Errno 5] ...: '<none>'"
        reason = reason.strerror
    text = " ".join(str(reason).split())[:200] or type(reason).__name__
    return f"not a readable {_label(container)}: {text}"


def _install_hint(obj: _Object, why: str = "") -> str:
    extension = _EXTENSIONS.get(obj.container, obj.container)
    if obj.container == "ogg" and obj.kind == "video":
        extension = "ogv"
    if obj.container == "asf" and obj.kind == "audio":
        extension = "wma"
    return f"install tunestats[media] to measure .{extension} {obj.kind}{why}"


# --- measure -------------------------------------------------------------------------------------


def measure(f: BinaryIO, size: int) -> Measurement:
    """Measure the seekable binary file ``f`` of ``size`` bytes, reading only what is needed
    (headers; for MP4 the moov atom wherever it is; for PDF the trailer and page tree)."""
    reader = _Reader(f, size)
    head = reader.read_at(0, min(size, HEAD_BYTES))
    kind, container = sniff(head)
    if container == "mp3" and head.startswith(b"ID3"):
        kind, container = _look_past_id3(reader, size, head)
    if kind is None or container is None:
        return Measurement(size, kind, container)
    obj = _Object(reader, size, head, kind, container)
    try:
        figures = _MEASURERS[container](obj)
    except Exception as error:  # a reader's complaint about the bytes, whatever its type
        if reader.io_error is not None:
            raise reader.io_error from error
        figures = _Figures(problem=_unreadable(container, error))
    if reader.io_error is not None:  # a reader swallowed it, so its figures are not to be trusted
        raise reader.io_error
    if reader.over_budget:
        reason = "its headers are damaged or unusual (measuring it would read too much of it)"
        figures = _Figures(problem=_unreadable(container, reason))
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


def _look_past_id3(reader: _Reader, size: int, head: bytes) -> tuple[str, str]:
    """ID3 tags (album art and all) can outgrow the head: look at what follows them."""
    at = _audio_start(_Object(reader, size, head, "audio", "mp3"))
    rest = head[at : at + 16] if at + 16 <= len(head) else reader.read_at(at, 16)
    if rest.startswith(b"fLaC"):
        return "audio", "flac"
    return "audio", _sniff_audio_frames(rest) or "mp3"


def _measure_image(obj: _Object) -> _Figures:
    import imagesize

    info = imagesize.get_info(obj.reader, dpi=False, colors=False, channels=False)
    if info.width < 0 or info.height < 0:
        return _Figures(problem=_unreadable(obj.container, "no image size in its header"))
    return _Figures(width=info.width, height=info.height)


# MP4 family: the box tree. A box is a 32-bit size (1: a 64-bit size follows the type; 0: to the
# end of its parent) and a 4-byte type; moov/trak/mdia/mvex hold boxes, the others data.


@dataclass(frozen=True)
class _Box:
    kind: bytes
    start: int  # payload
    end: int


_MAX_BOXES = 10_000


def _boxes(reader: _Reader, start: int, end: int) -> Iterator[_Box]:
    at = start
    for _ in range(_MAX_BOXES):
        if at + 8 > end:
            return
        header = reader.read_at(at, 16)
        if len(header) < 8:
            raise _Bad("the file ends inside a box header")
        size, kind = struct.unpack_from(">I4s", header)
        header_size = 8
        if size == 1:
            if len(header) < 16:
                raise _Bad("the file ends inside a box header")
            (size,) = struct.unpack_from(">Q", header, 8)
            header_size = 16
        elif size == 0:
            size = end - at
        if size < header_size:
            raise _Bad(f"box {_name(kind)} has an impossible size ({size})")
        yield _Box(kind, at + header_size, at + size)
        at += size
    raise _Bad(f"more than {_MAX_BOXES} boxes")


def _child(reader: _Reader, parent: _Box, kind: bytes) -> _Box | None:
    for box in _boxes(reader, parent.start, parent.end):
        if box.kind == kind:
            return box
    return None


def _payload(reader: _Reader, box: _Box, n: int) -> bytes:
    return reader.read_at(box.start, min(n, box.end - box.start))


def _measure_mp4(obj: _Object) -> _Figures:
    reader = obj.reader
    moov: _Box | None = None
    cut: bytes | None = None  # the box the file ends inside, if it does
    after_moov = 0
    for box in _boxes(reader, 0, obj.size):
        if box.end > obj.size:
            cut = box.kind
            break
        if box.kind == b"moov":
            moov = box
        elif moov is not None:
            after_moov += 1
            if after_moov > 8:  # enough to see the file is whole; a fragmented one goes on
                break
    if moov is None:
        if cut == b"moov":
            raise _Bad("truncated: the file ends inside its movie header (moov atom)")
        if cut is not None:
            raise _Bad(
                f"truncated: the file ends inside its {_name(cut)} box, before the movie "
                "header (moov atom)"
            )
        raise _Bad("no movie header (moov atom)")
    figures = _read_moov(reader, moov)
    if figures.duration is None:
        kind = "audio" if figures.has_audio and not figures.has_video else obj.kind
        fallback = _measure_with_av(
            replace(obj, kind=kind), " (a fragmented MP4 with no duration in its header)"
        )
        if fallback.duration is None:
            return replace(figures, problem=fallback.problem)
        figures = replace(figures, duration=fallback.duration)
    if cut is not None:
        reason = f"truncated: its {_name(cut)} box runs past the end of the file"
        return replace(figures, problem=_unreadable(obj.container, reason))
    return figures


def _name(box_kind: bytes) -> str:
    return repr(box_kind.decode("latin-1"))


def _read_moov(reader: _Reader, moov: _Box) -> _Figures:
    timescale = duration = fragment_duration = None
    fragmented = False
    handlers: list[bytes] = []
    for box in _boxes(reader, moov.start, moov.end):
        if box.end > moov.end:
            raise _Bad("a box runs past the end of the movie header")
        if box.kind == b"mvhd":
            timescale, duration = _mvhd(_payload(reader, box, 32))
        elif box.kind == b"trak":
            handlers.append(_handler(reader, box))
        elif box.kind == b"mvex":
            fragmented = True
            mehd = _child(reader, box, b"mehd")
            if mehd is not None:
                fragment_duration = _mehd(_payload(reader, mehd, 12))
        elif box.kind == b"cmov":
            raise _Bad("its movie header is compressed (cmov), which is not supported")
    if timescale is None:
        raise _Bad("no movie header box (mvhd)")
    if fragmented:
        duration = fragment_duration or None  # mvhd only covers the samples before fragments
    has_audio, has_video = b"soun" in handlers, b"vide" in handlers
    seconds = None if duration is None else duration / timescale
    return _Figures(duration=seconds, has_audio=has_audio, has_video=has_video)


def _mehd(payload: bytes) -> int:
    """The whole duration of a fragmented movie (movie timescale), from its mehd box."""
    wide = payload[:1] == b"\x01"
    if len(payload) < (12 if wide else 8):
        raise _Bad("the movie extends header (mehd) is cut short")
    return struct.unpack_from(">Q" if wide else ">I", payload, 4)[0]


def _mvhd(payload: bytes) -> tuple[int, int | None]:
    """(timescale, duration) of the movie header; duration None when marked unknown."""
    if len(payload) < 20:
        raise _Bad("the movie header (mvhd) is cut short")
    if payload[0] == 1:
        if len(payload) < 32:
            raise _Bad("the movie header (mvhd) is cut short")
        timescale, duration = struct.unpack_from(">IQ", payload, 20)
        unknown = 0xFFFF_FFFF_FFFF_FFFF
    else:
        timescale, duration = struct.unpack_from(">II", payload, 12)
        unknown = 0xFFFF_FFFF
    if timescale == 0:
        raise _Bad("the movie header's timescale is 0")
    return timescale, (None if duration == unknown else duration)


def _handler(reader: _Reader, trak: _Box) -> bytes:
    """A track's handler type: b'vide', b'soun', b'text', ... (b'' when it has none)."""
    mdia = _child(reader, trak, b"mdia")
    hdlr = _child(reader, mdia, b"hdlr") if mdia is not None else None
    if hdlr is None:
        return b""
    return _payload(reader, hdlr, 12)[8:12]


# Audio through mutagen.


def _measure_mp3(obj: _Object) -> _Figures:
    from mutagen.mp3 import MPEGInfo

    obj.reader.seek(0)
    info = MPEGInfo(obj.reader)  # skips ID3 tags by their sizes, without reading them
    return _Figures(duration=max(0.0, info.length - _lavf_gapless_trim(obj, info)))


def _measure_mutagen(obj: _Object) -> _Figures:
    reader, container = obj.reader, obj.container
    reader.seek(0)
    if container == "aac":
        from mutagen.aac import AAC

        info = AAC(reader).info
    elif container == "wav":
        if not obj.head.startswith(b"RIFF"):
            # RF64/BW64, WAV's form for over 4 GiB: mutagen reads RIFF only.
            return _measure_with_av(obj, " (RF64)")
        from mutagen.wave import WAVE

        info = WAVE(reader).info
    elif container == "aiff":
        from mutagen.aiff import AIFF

        info = AIFF(reader).info
    elif container == "flac":
        from mutagen.flac import FLAC

        info = FLAC(reader).info
        if info.total_samples == 0:  # "unknown" in STREAMINFO (a live recording)
            return _measure_with_av(obj, " (a FLAC stream with no length in its header)")
    elif container in ("ogg", "opus"):
        info = _ogg_info(obj)
        if info is None:
            return _measure_with_av(obj)
    else:
        raise AssertionError(container)
    return _Figures(duration=float(info.length))


def _lavf_gapless_trim(obj: _Object, info: object) -> float:
    """Seconds of encoder delay and padding that mutagen left in an FFmpeg-written MP3.

    A Xing/Info frame counts the frames; the LAME extension after it says how many samples
    the encoder added at the start and end. mutagen removes them only when the extension is
    LAME's own; FFmpeg writes the same layout under its "Lavf"/"Lavc" name.
    """
    start = _audio_start(obj)
    frame = obj.reader.read_at(start, 200)
    if len(frame) < 4 or frame[0] != 0xFF:
        return 0.0
    mpeg1, mono = (frame[1] >> 3) & 3 == 3, frame[3] >> 6 == 3
    at = 4 + (17 if mpeg1 and mono else 32 if mpeg1 else 9 if mono else 17)
    if frame[at : at + 4] not in (b"Xing", b"Info"):
        return 0.0
    (flags,) = struct.unpack_from(">I", frame, at + 4)
    if not flags & 1:  # no frame count: mutagen estimated from the bit rate instead
        return 0.0
    at += (
        8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4) + 4 * bool(flags & 8)
    )
    tag = frame[at : at + 24]
    if len(tag) < 24 or not tag.startswith(b"Lav"):
        return 0.0
    delay = (tag[21] << 4) | (tag[22] >> 4)
    padding = ((tag[22] & 0x0F) << 8) | tag[23]
    rate = getattr(info, "sample_rate", 0)
    return (delay + padding) / rate if rate else 0.0


def _audio_start(obj: _Object) -> int:
    """Where the audio starts: after any ID3v2 tags."""
    at = 0
    for _ in range(16):  # some taggers stack several
        chunk = obj.head[at : at + 10] if at + 10 <= len(obj.head) else obj.reader.read_at(at, 10)
        end = _id3_end(chunk)
        if end is None:
            break
        at += end
    return at


def _ogg_info(obj: _Object) -> object | None:
    """mutagen's reader for the codec of the first Ogg stream (None: one it has not, or video,
    whose other streams mutagen would not look at)."""
    first_page = _ogg_first_page(obj.head)
    if obj.kind == "video":
        return None
    if obj.container == "opus":
        from mutagen.oggopus import OggOpus as cls
    elif b"\x01vorbis" in first_page:
        from mutagen.oggvorbis import OggVorbis as cls
    elif b"\x7fFLAC" in first_page:
        from mutagen.oggflac import OggFLAC as cls
    elif b"Speex   " in first_page:
        from mutagen.oggspeex import OggSpeex as cls
    else:
        return None  # Theora video, or a codec mutagen does not know
    return cls(obj.reader).info


_ASF_STREAM_PROPERTIES = uuid.UUID("B7DC0791-A9B7-11CF-8EE6-00C00C205365").bytes_le
_ASF_AUDIO = uuid.UUID("F8699E40-5B4D-11CF-A8FD-00805F5C442B").bytes_le
_ASF_VIDEO = uuid.UUID("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B").bytes_le


def _measure_asf(obj: _Object) -> _Figures:
    from mutagen.asf import ASF

    obj.reader.seek(0)
    length = ASF(obj.reader).info.length  # the file properties' play duration less preroll
    header = obj.head
    if len(header) >= 24:
        (header_size,) = struct.unpack_from("<Q", header, 16)
        if header_size > len(header):
            header = obj.reader.read_at(0, header_size)
    # Each stream properties object (top level, or inside the header extension) starts with its
    # stream type; a byte search finds both.
    types = set()
    at = header.find(_ASF_STREAM_PROPERTIES)
    while at != -1:
        types.add(header[at + 24 : at + 40])
        at = header.find(_ASF_STREAM_PROPERTIES, at + 16)
    return _Figures(
        duration=float(length), has_audio=_ASF_AUDIO in types, has_video=_ASF_VIDEO in types
    )


def _measure_pdf(obj: _Object) -> _Figures:
    from pypdf import PasswordType, PdfReader

    _quiet("pypdf")
    obj.reader.seek(0)
    # A broken cross-reference table makes pypdf read the whole file to rebuild it: the read
    # budget bounds that.
    pdf = PdfReader(obj.reader, strict=False)
    if pdf.is_encrypted and pdf.decrypt("") == PasswordType.NOT_DECRYPTED:
        return _Figures(problem="the PDF is password-protected: its pages cannot be counted")
    try:
        pages = pdf.trailer["/Root"]["/Pages"]
    except (KeyError, TypeError) as error:
        raise _Bad("no page tree (the catalog has no /Pages)") from error
    # The page tree's root counts every page: no need to visit each page object.
    count = pages.get("/Count")
    count = count.get_object() if count is not None else None
    if not isinstance(count, int) or count < 0:
        count = len(pdf.pages)
    return _Figures(pages=int(count))


def _quiet(library: str) -> None:
    """Keep a library's warnings about damaged files off stderr unless the application logs
    them: Python prints records no handler takes ("lastResort"); a NullHandler takes them."""
    logger = logging.getLogger(library)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


# Everything else through PyAV (FFmpeg), if installed.


def _measure_with_av(obj: _Object, why: str = "") -> _Figures:
    try:
        import av
    except ImportError:
        return _Figures(problem=_install_hint(obj, why))
    obj.reader.seek(0)
    with av.open(obj.reader, mode="r", metadata_errors="replace") as container:
        streams = [s for s in container.streams if not _is_cover_art(s)]
        has_audio = any(s.type == "audio" for s in streams)
        has_video = any(s.type == "video" for s in streams)
        if container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE: microseconds
        else:
            lengths = [float(s.duration * s.time_base) for s in streams if s.duration]
            duration = max(lengths) if lengths else None
    if duration is None:
        return _Figures(
            has_audio=has_audio,
            has_video=has_video,
            problem=_unreadable(obj.container, "no duration in the file"),
        )
    return _Figures(duration=duration, has_audio=has_audio, has_video=has_video)


def _is_cover_art(stream: object) -> bool:
    """A still picture attached to an audio file (album art) shows as a video stream."""
    import av

    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    return bool(getattr(stream, "disposition", 0) & attached)


_MEASURERS: dict[str, Callable[[_Object], _Figures]] = {
    **{c: _measure_image for c in ("png", "jpeg", "gif", "webp", "bmp", "tiff", "heic", "heif")},
    "avif": _measure_image,
    **{c: _measure_mp4 for c in ("mp4", "mov", "3gp", "m4a")},
    "mp3": _measure_mp3,
    "mp2": _measure_mp3,
    **{c: _measure_mutagen for c in ("aac", "wav", "aiff", "flac", "ogg", "opus")},
    "asf": _measure_asf,
    "pdf": _measure_pdf,
    **{c: _measure_with_av for c in ("webm", "mkv", "avi", "flv", "mpeg", "ts")},
}
