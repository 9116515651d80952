"""MP4: our own walk of the box tree of MP4, MOV, 3GP and M4A files (ISO base media).

The movie header (mvhd) holds the movie's duration and each track's handler (hdlr) says audio
or video: a dozen small reads wherever moov is, at the start or the end. mutagen's MP4 reader
reports the audio track's length, not the movie's, and does not look at video tracks. A
fragmented movie's duration is its mehd box's, or failing that PyAV's. A box is a 32-bit size
(1: a 64-bit size follows the type; 0: to the end of its parent) and a 4-byte type;
moov/trak/mdia/mvex hold boxes, the others data.

Hands to ``measure`` :class:`~.figures.Figures`: the duration, whether there are audio and video
tracks, and a problem when the file is cut short.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace

from .figures import BadBytes, Figures, MediaObject, Reader, unreadable
from .pyav import measure_with_av


@dataclass(frozen=True)
class _Box:
    kind: bytes
    start: int  # payload
    end: int


_MAX_BOXES = 10_000


def _boxes(reader: Reader, start: int, end: int) -> Iterator[_Box]:
    at = start
    for _ in range(_MAX_BOXES):
        if at + 8 > end:
            return
        header = reader.read_at(at, 16)
        if len(header) < 8:
            raise BadBytes("the file ends inside a box header")
        size, kind = struct.unpack_from(">I4s", header)
        header_size = 8
        if size == 1:
            if len(header) < 16:
                raise BadBytes("the file ends inside a box header")
            (size,) = struct.unpack_from(">Q", header, 8)
            header_size = 16
        elif size == 0:
            size = end - at
        if size < header_size:
            raise BadBytes(f"box {_name(kind)} has an impossible size ({size})")
        yield _Box(kind, at + header_size, at + size)
        at += size
    raise BadBytes(f"more than {_MAX_BOXES} boxes")


def _child(reader: Reader, parent: _Box, kind: bytes) -> _Box | None:
    for box in _boxes(reader, parent.start, parent.end):
        if box.kind == kind:
            return box
    return None


def _payload(reader: Reader, box: _Box, n: int) -> bytes:
    return reader.read_at(box.start, min(n, box.end - box.start))


def measure_mp4(obj: MediaObject) -> Figures:
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
            raise BadBytes("truncated: the file ends inside its movie header (moov atom)")
        if cut is not None:
            raise BadBytes(
                f"truncated: the file ends inside its {_name(cut)} box, before the movie "
                "header (moov atom)"
            )
        raise BadBytes("no movie header (moov atom)")
    figures = _read_moov(reader, moov)
    if figures.duration is None:
        kind = "audio" if figures.has_audio and not figures.has_video else obj.kind
        fallback = measure_with_av(
            replace(obj, kind=kind), " (a fragmented MP4 with no duration in its header)"
        )
        if fallback.duration is None:
            return replace(figures, problem=fallback.problem)
        figures = replace(figures, duration=fallback.duration)
    if cut is not None:
        reason = f"truncated: its {_name(cut)} box runs past the end of the file"
        return replace(figures, problem=unreadable(obj.container, reason))
    return figures


def _name(box_kind: bytes) -> str:
    return repr(box_kind.decode("latin-1"))


def _read_moov(reader: Reader, moov: _Box) -> Figures:
    timescale = duration = fragment_duration = None
    fragmented = False
    handlers: list[bytes] = []
    for box in _boxes(reader, moov.start, moov.end):
        if box.end > moov.end:
            raise BadBytes("a box runs past the end of the movie header")
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
            raise BadBytes("its movie header is compressed (cmov), which is not supported")
    if timescale is None:
        raise BadBytes("no movie header box (mvhd)")
    if fragmented:
        duration = fragment_duration or None  # mvhd only covers the samples before fragments
    has_audio, has_video = b"soun" in handlers, b"vide" in handlers
    seconds = None if duration is None else duration / timescale
    return Figures(duration=seconds, has_audio=has_audio, has_video=has_video)


def _mehd(payload: bytes) -> int:
    """The whole duration of a fragmented movie (movie timescale), from its mehd box."""
    wide = payload[:1] == b"\x01"
    if len(payload) < (12 if wide else 8):
        raise BadBytes("the movie extends header (mehd) is cut short")
    return struct.unpack_from(">Q" if wide else ">I", payload, 4)[0]


def _mvhd(payload: bytes) -> tuple[int, int | None]:
    """(timescale, duration) of the movie header; duration None when marked unknown."""
    if len(payload) < 20:
        raise BadBytes("the movie header (mvhd) is cut short")
    if payload[0] == 1:
        if len(payload) < 32:
            raise BadBytes("the movie header (mvhd) is cut short")
        timescale, duration = struct.unpack_from(">IQ", payload, 20)
        unknown = 0xFFFF_FFFF_FFFF_FFFF
    else:
        timescale, duration = struct.unpack_from(">II", payload, 12)
        unknown = 0xFFFF_FFFF
    if timescale == 0:
        raise BadBytes("the movie header's timescale is 0")
    return timescale, (None if duration == unknown else duration)


def _handler(reader: Reader, trak: _Box) -> bytes:
    """A track's handler type: b'vide', b'soun', b'text', ... (b'' when it has none)."""
    mdia = _child(reader, trak, b"mdia")
    hdlr = _child(reader, mdia, b"hdlr") if mdia is not None else None
    if hdlr is None:
        return b""
    return _payload(reader, hdlr, 12)[8:12]
