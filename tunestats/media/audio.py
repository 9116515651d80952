"""Audio: the audio containers, and ASF, through mutagen (pure Python, reading headers).

MP3 and MP2 (less the encoder delay and padding mutagen leaves in an FFmpeg-written file), ADTS
AAC, WAV, AIFF, FLAC, Ogg Vorbis/Opus/FLAC/Speex (for Ogg, the last page too), and ASF (WMA and
WMV), whose track types come from its header's stream properties, read here. What mutagen does
not read (RF64, a FLAC with no length in its header, Ogg video) goes to PyAV.

Hands to ``measure`` :class:`~.figures.Figures` (the duration; for ASF, its tracks) and
:func:`audio_start`, where the audio starts after any ID3 tags.
"""

from __future__ import annotations

import struct
import uuid

from .figures import Figures, MediaObject
from .kinds import id3_end, ogg_first_page
from .pyav import measure_with_av


def measure_mp3(obj: MediaObject) -> Figures:
    from mutagen.mp3 import MPEGInfo

    obj.reader.seek(0)
    info = MPEGInfo(obj.reader)  # skips ID3 tags by their sizes, without reading them
    return Figures(duration=max(0.0, info.length - _lavf_gapless_trim(obj, info)))


def measure_mutagen(obj: MediaObject) -> Figures:
    reader, container = obj.reader, obj.container
    reader.seek(0)
    if container == "aac":
        from mutagen.aac import AAC

        info = AAC(reader).info
    elif container == "wav":
        if not obj.head.startswith(b"RIFF"):
            # RF64/BW64, WAV's form for over 4 GiB: mutagen reads RIFF only.
            return measure_with_av(obj, " (RF64)")
        from mutagen.wave import WAVE

        info = WAVE(reader).info
    elif container == "aiff":
        from mutagen.aiff import AIFF

        info = AIFF(reader).info
    elif container == "flac":
        from mutagen.flac import FLAC

        info = FLAC(reader).info
        if info.total_samples == 0:  # "unknown" in STREAMINFO (a live recording)
            return measure_with_av(obj, " (a FLAC stream with no length in its header)")
    elif container in ("ogg", "opus"):
        info = _ogg_info(obj)
        if info is None:
            return measure_with_av(obj)
    else:
        raise AssertionError(container)
    return Figures(duration=float(info.length))


def _lavf_gapless_trim(obj: MediaObject, info: object) -> float:
    """Seconds of encoder delay and padding that mutagen left in an FFmpeg-written MP3.

    A Xing/Info frame counts the frames; the LAME extension after it says how many samples
    the encoder added at the start and end. mutagen removes them only when the extension is
    LAME's own; FFmpeg writes the same layout under its "Lavf"/"Lavc" name.
    """
    start = audio_start(obj)
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


def audio_start(obj: MediaObject) -> int:
    """Where the audio starts: after any ID3v2 tags."""
    at = 0
    for _ in range(16):  # some taggers stack several
        chunk = obj.head[at : at + 10] if at + 10 <= len(obj.head) else obj.reader.read_at(at, 10)
        end = id3_end(chunk)
        if end is None:
            break
        at += end
    return at


def _ogg_info(obj: MediaObject) -> object | None:
    """mutagen's reader for the codec of the first Ogg stream (None: one it has not, or video,
    whose other streams mutagen would not look at)."""
    first_page = ogg_first_page(obj.head)
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


def measure_asf(obj: MediaObject) -> Figures:
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
    return Figures(
        duration=float(length), has_audio=_ASF_AUDIO in types, has_video=_ASF_VIDEO in types
    )
