"""Kinds: what a media object is, from its first bytes (SPEC §9): the magic-number table.

:func:`sniff` names the kind (one of :data:`KINDS`) and the container ("png", "mp4", "webm",
"pdf", ...) from at most :data:`HEAD_BYTES` of the object's start: a file's name or declared MIME
type is not trusted. Hands to ``measure`` the (kind, container) that picks the reader of the
rest; to ``audio`` the parts of the table it reads again further into a file (where ID3 tags
end, an MPEG audio or ADTS frame header, the first Ogg page).
"""

from __future__ import annotations

import struct
import uuid

KINDS = ("image", "audio", "video", "pdf")

HEAD_BYTES = 64 * 1024  # how much of an object sniff() needs at most


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
    here; ``measure`` makes it "audio" when the file has no video track.
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
    audio = sniff_audio_frames(head)
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


def id3_end(data: bytes, at: int = 0) -> int | None:
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
    while (end := id3_end(head, at)) is not None:
        at = end
    rest = head[at : at + 16]
    if rest.startswith(b"fLaC"):
        return "audio", "flac"
    return "audio", sniff_audio_frames(rest) or "mp3"


_MPEG_LAYERS = {1: "mp3", 2: "mp2", 3: "mp2"}  # layer bits 01 = III, 10 = II, 11 = I


def sniff_audio_frames(head: bytes) -> str | None:
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


def ogg_first_page(head: bytes) -> bytes:
    """The first Ogg page: the first stream's first packet, which names its codec."""
    page_end = 27 + (head[26] if len(head) > 26 else 0)
    return head[: page_end + sum(head[27:page_end])]


def _sniff_ogg(head: bytes) -> tuple[str | None, str | None]:
    first_page = ogg_first_page(head)
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
