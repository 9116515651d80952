"""Real media files of known properties, made at test time (nothing downloaded or committed).

Images come from Pillow, WAV from the stdlib ``wave`` module, PDFs from pypdf, and every other
audio/video container from PyAV (FFmpeg's own muxers and encoders, so the files are what real
tools write). Each maker returns the file's bytes and is small and fast: silence, black 64x48
frames, low frame and sample rates.

Durations. A maker's ``seconds`` is what the file really lasts where the container can say it
exactly (each docstring says so, or says what it really lasts); :func:`probe` gives FFmpeg's
own independent reading of any file. Long files stay cheap: video is one frame a second by
default (``fps`` takes any fraction, e.g. ``Fraction(1, 7)``), and WAV takes a low ``rate``
(61 minutes at 1 kHz is 3.7 MB).
"""

from __future__ import annotations

import io
import re
import struct
import wave
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from PIL import Image, features
from pypdf import PdfWriter

# --- images (Pillow) -----------------------------------------------------------------------------


def _image(width: int, height: int, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, fmt, **options)
    return buf.getvalue()


def png(width: int, height: int) -> bytes:
    return _image(width, height, "PNG")


def jpeg(width: int, height: int, *, app_padding: int = 0) -> bytes:
    """A baseline JPEG; ``app_padding`` bytes of APP segments (64 KiB each at most, like big
    EXIF/XMP blocks) come before the frame header, pushing the size past the first bytes."""
    data = _image(width, height, "JPEG", quality=80)
    segments = b""
    while app_padding > 0:
        chunk = min(app_padding, 65533)
        segments += b"\xff\xe2" + struct.pack(">H", chunk + 2) + b"\0" * chunk
        app_padding -= chunk
    return data[:2] + segments + data[2:]  # right after SOI, where APPn segments live


def jpeg_rotated(width: int, height: int) -> bytes:
    """A JPEG stored ``width`` x ``height`` whose EXIF orientation (6: rotate 90°) displays it
    ``height`` x ``width``."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _image(width, height, "JPEG", exif=exif.tobytes())


def gif(width: int, height: int) -> bytes:
    return _image(width, height, "GIF")


def bmp(width: int, height: int) -> bytes:
    return _image(width, height, "BMP")


def tiff(width: int, height: int) -> bytes:
    return _image(width, height, "TIFF")


def webp(width: int, height: int, *, lossless: bool = False) -> bytes:
    """Lossy WebP is a 'VP8 ' chunk, lossless a 'VP8L' one (different size fields)."""
    return _image(width, height, "WEBP", lossless=lossless)


AVIF = features.check("avif")  # whether this Pillow writes AVIF (libavif in its build)


def avif(width: int, height: int) -> bytes:
    return _image(width, height, "AVIF")


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def heic(width: int, height: int, *, brand: bytes = b"heic") -> bytes:
    """A HEIF file's structure by hand (no encoder for HEVC stills is at hand): ftyp, and a meta
    box whose primary item has an ``ispe`` of ``width`` x ``height``. Its one item is an empty
    'hvc1' image, so it measures like a real HEIC but decodes to nothing."""
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + b"mif1" + brand)
    hdlr = _full_box(b"hdlr", 0, b"\0" * 4 + b"pict" + b"\0" * 12 + b"\0")
    pitm = _full_box(b"pitm", 0, struct.pack(">H", 1))
    infe = _full_box(b"infe", 2, struct.pack(">HH", 1, 0) + b"hvc1" + b"\0")
    iinf = _full_box(b"iinf", 0, struct.pack(">H", 1) + infe)
    ispe = _full_box(b"ispe", 0, struct.pack(">II", width, height))
    ipco = _box(b"ipco", ispe)
    ipma = _full_box(b"ipma", 0, struct.pack(">IHB", 1, 1, 1) + bytes([0x81]))
    iprp = _box(b"iprp", ipco + ipma)
    iloc = _full_box(b"iloc", 0, bytes([0x44, 0x00]) + struct.pack(">H", 0))
    meta = _full_box(b"meta", 0, hdlr + pitm + iloc + iinf + iprp)
    return ftyp + meta


# --- audio and video (stdlib wave, PyAV) ---------------------------------------------------------


def wav(seconds: float, rate: int = 8000) -> bytes:
    """8-bit mono PCM of exactly ``round(seconds * rate)`` samples (silence)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * round(seconds * rate))
    return buf.getvalue()


@dataclass(frozen=True)
class _Video:
    codec: str
    width: int
    height: int
    fps: Fraction


@dataclass(frozen=True)
class _Audio:
    codec: str
    rate: int
    options: dict[str, str] | None = None
    layout: str = "mono"


def _frames(seconds: float, fps: Fraction) -> int:
    count = Fraction(seconds).limit_denominator(10**6) * fps
    if count.denominator != 1 or count < 1:
        raise ValueError(f"{seconds} s at {fps} fps is not a whole number of frames")
    return int(count)


def _encode(
    fmt: str,
    seconds: float,
    video: _Video | None,
    audio: _Audio | None,
    muxer_options: dict[str, str] | None = None,
) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, options=muxer_options or {}) as out:
        vstream = astream = None
        if video is not None:
            vstream = out.add_stream(video.codec, rate=video.fps)
            vstream.width, vstream.height, vstream.pix_fmt = video.width, video.height, "yuv420p"
        if audio is not None:
            astream = out.add_stream(audio.codec, rate=audio.rate, options=audio.options or {})
            astream.layout = audio.layout
        if vstream is not None:
            black = np.zeros((video.height, video.width, 3), np.uint8)
            for i in range(_frames(seconds, video.fps)):
                frame = av.VideoFrame.from_ndarray(black, format="rgb24").reformat(format="yuv420p")
                frame.pts = i
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        if astream is not None:
            _silence(out, astream, round(seconds * audio.rate), audio.rate)
    return buf.getvalue()


_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "flt": np.float32, "dbl": np.float64}


def _silence(out: av.container.OutputContainer, stream: av.AudioStream, total: int, rate: int):
    sample_format, layout = stream.format, stream.layout
    channels = len(layout.channels)
    dtype = _DTYPES[sample_format.name.removesuffix("p")]
    step = stream.codec_context.frame_size or 1024
    fill = 128 if sample_format.name == "u8" else 0
    done = 0
    while done < total:
        count = min(step, total - done)
        shape = (channels, count) if sample_format.is_planar else (1, count * channels)
        samples = np.full(shape, fill, dtype)
        frame = av.AudioFrame.from_ndarray(samples, format=sample_format.name, layout=layout.name)
        frame.sample_rate, frame.pts = rate, done
        out.mux(stream.encode(frame))
        done += count
    out.mux(stream.encode(None))


def _video(codec: str, width: int, height: int, fps: Fraction | int) -> _Video:
    return _Video(codec, width, height, Fraction(fps))


_AAC = _Audio("aac", 8000)  # the sound of most video makers: 8 kHz mono AAC
_OPUS = _Audio("libopus", 48000)


def _movie(fmt: str, seconds: float, video: _Video, sound: _Audio, audio: bool) -> bytes:
    """``video`` in the container ``fmt``, with ``sound`` beside it when ``audio``."""
    return _encode(fmt, seconds, video, sound if audio else None)


def mp4(
    seconds: float,
    *,
    audio: bool,
    width: int = 64,
    height: int = 48,
    fps: Fraction | int = 1,
    faststart: bool = False,
) -> bytes:
    """H.264 video (plus 8 kHz mono AAC with ``audio``) lasting exactly ``seconds``
    (``seconds * fps`` must be whole): the AAC track's priming is cut by an edit list, so it
    lasts ``seconds`` too. The moov atom is at the end, after mdat, unless ``faststart``."""
    data = _movie("mp4", seconds, _video("libx264", width, height, fps), _AAC, audio)
    return _faststart(data) if faststart else data


def fragmented_mp4(seconds: float, *, fps=1) -> bytes:
    """H.264 in a fragmented MP4 (an empty moov, then moof/mdat pairs): mvhd says nothing of
    the length and there is no mehd; only the fragments (or the mfra index after them) do."""
    options = {"movflags": "frag_keyframe+empty_moov"}
    return _encode("mp4", seconds, _video("libx264", 64, 48, fps), None, options)


def mov(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """QuickTime ('qt  ' brand), like :func:`mp4`."""
    return _movie("mov", seconds, _video("libx264", width, height, fps), _AAC, audio)


def three_gp(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """3GPP ('3gp4' brand): MPEG-4 part 2 video, AAC audio, like :func:`mp4`."""
    return _movie("3gp", seconds, _video("mpeg4", width, height, fps), _AAC, audio)


def m4a(seconds: float, rate: int = 8000) -> bytes:
    """AAC in an MP4 ('M4A ' brand) lasting exactly ``round(seconds * rate)`` samples."""
    return _encode("ipod", seconds, None, _Audio("aac", rate))


def mp4_audio_only(seconds: float, rate: int = 8000) -> bytes:
    """AAC in an MP4 with the generic 'isom' brand: audio, though the brand does not say so."""
    return _encode("mp4", seconds, None, _Audio("aac", rate))


def webm(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """VP8 video (plus 48 kHz Opus with ``audio``). Matroska durations are in milliseconds;
    with audio the file lasts up to one 20 ms Opus frame longer than ``seconds`` (the last
    frame's padding): :func:`probe` tells."""
    return _movie("webm", seconds, _video("libvpx", width, height, fps), _OPUS, audio)


def webm_audio(seconds: float) -> bytes:
    """Opus alone in WebM (a .weba file): the EBML header says "webm", the tracks say audio."""
    return _encode("webm", seconds, None, _OPUS)


def mkv(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """H.264 (plus AAC) in Matroska. Matroska keeps the AAC priming (1024 samples, 128 ms at
    8 kHz), so with audio the file lasts ``seconds + 0.128``: :func:`probe` tells."""
    return _movie("matroska", seconds, _video("libx264", width, height, fps), _AAC, audio)


def avi(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """MPEG-4 part 2 video (plus 8-bit PCM): lasts exactly ``seconds``."""
    return _movie(
        "avi", seconds, _video("mpeg4", width, height, fps), _Audio("pcm_u8", 8000), audio
    )


def flv(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """Sorenson H.263 video (plus AAC, whose 128 ms of priming FLV keeps: ``seconds + 0.128``)."""
    return _movie("flv", seconds, _video("flv1", width, height, fps), _AAC, audio)


def mpeg_ps(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=25) -> bytes:
    """MPEG-1 video (which needs a standard frame rate, hence 25 fps) and MP2 audio. Nothing
    records the duration: FFmpeg estimates it from the first and last timestamps, within a few
    ms with audio, but badly for these tiny video-only files (2.3 s for 3 s): :func:`probe`."""
    return _movie(
        "mpeg", seconds, _video("mpeg1video", width, height, fps), _Audio("mp2", 48000), audio
    )


def mpeg_ts(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """H.264 (plus AAC) in a transport stream. FFmpeg times it from the first and last
    timestamps: ``seconds`` for video alone from 3 s on (less below: 0.5 s for 1 s at 1 fps),
    with audio about ``seconds + 0.128`` (AAC priming) plus a few frames: :func:`probe`."""
    return _movie("mpegts", seconds, _video("libx264", width, height, fps), _AAC, audio)


_WMA = _Audio("wmav2", 8000, {"b": "32000"})  # the encoder has no default bit rate


def wmv(seconds: float, *, audio: bool, width: int = 64, height: int = 48, fps=1) -> bytes:
    """ASF with WMV2 video (plus WMA2 audio). Video alone lasts ``seconds``; with audio the
    header's play duration less preroll says ``seconds + 0.064``, FFmpeg ``seconds + 0.128``."""
    return _movie("asf", seconds, _video("wmv2", width, height, fps), _WMA, audio)


def wma(seconds: float) -> bytes:
    """ASF with WMA2 audio only."""
    return _encode("asf", seconds, None, _WMA)


def mp3(seconds: float, rate: int = 8000, *, xing: bool = True) -> bytes:
    """LAME-encoded constant bit rate MP3 of exactly ``round(seconds * rate)`` samples. FFmpeg
    puts an Info frame first (frame count, encoder delay and padding, under its "Lavf" name);
    without ``xing`` nothing records the length: it is the file's size over the bit rate, and
    that counts the encoder's delay and padding too (about 0.15 s at 8 kHz)."""
    options = None if xing else {"write_xing": "0"}
    return _encode("mp3", seconds, None, _Audio("libmp3lame", rate), options)


def aac(seconds: float, rate: int = 8000) -> bytes:
    """Raw AAC in ADTS frames: no container field holds the duration."""
    return _encode("adts", seconds, None, _Audio("aac", rate))


def flac(seconds: float, rate: int = 8000) -> bytes:
    """FLAC: STREAMINFO holds the exact sample count, ``round(seconds * rate)``."""
    return _encode("flac", seconds, None, _Audio("flac", rate))


def aiff(seconds: float, rate: int = 8000) -> bytes:
    """16-bit big-endian PCM, exactly ``round(seconds * rate)`` samples."""
    return _encode("aiff", seconds, None, _Audio("pcm_s16be", rate))


def ogg(seconds: float, rate: int = 8000) -> bytes:
    """Vorbis in Ogg (stereo). FFmpeg's encoder rounds the length up to whole 64-sample blocks
    and the last page's granule position says so: the file lasts ``ceil(n / 64) * 64`` samples
    for ``n = round(seconds * rate)`` (:func:`decoded_seconds` counts them)."""
    # FFmpeg's own Vorbis encoder (PyAV's wheels have no libvorbis) is "experimental" and
    # stereo only.
    vorbis = _Audio("vorbis", rate, {"strict": "experimental"}, "stereo")
    return _encode("ogg", seconds, None, vorbis)


def opus(seconds: float) -> bytes:
    """Opus in Ogg (48 kHz): granule positions minus the pre-skip give the exact duration."""
    return _encode("ogg", seconds, None, _OPUS)


@dataclass(frozen=True)
class Probe:
    duration: float | None  # seconds, FFmpeg's reading of the whole file
    has_audio: bool
    has_video: bool


def probe(data: bytes) -> Probe:
    """FFmpeg's (PyAV's) own reading of ``data``: the independent figure the tests compare to."""
    with av.open(io.BytesIO(data)) as container:
        types = {stream.type for stream in container.streams}
        duration = None if container.duration is None else container.duration / 1_000_000
        return Probe(duration, "audio" in types, "video" in types)


def decoded_seconds(data: bytes) -> float:
    """The first audio stream's length by decoding every sample (FFmpeg drops the encoder delay
    it knows of, but not AAC's end padding, which only an MP4 edit list records)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


# --- MP4 surgery ---------------------------------------------------------------------------------


def _top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        boxes.append((kind, at, size))
        at += size
    return boxes


def _faststart(data: bytes) -> bytes:
    """Move moov before mdat, shifting the chunk offsets (stco/co64) it holds by moov's size."""
    boxes = {kind: (at, size) for kind, at, size in _top_boxes(data)}
    moov_at, moov_size = boxes[b"moov"]
    moov = bytearray(data[moov_at : moov_at + moov_size])
    for table, width in ((b"stco", 4), (b"co64", 8)):
        at = moov.find(table)
        while at != -1:
            count = struct.unpack(">I", moov[at + 8 : at + 12])[0]
            fmt = ">I" if width == 4 else ">Q"
            for i in range(count):
                pos = at + 12 + i * width
                (offset,) = struct.unpack(fmt, moov[pos : pos + width])
                moov[pos : pos + width] = struct.pack(fmt, offset + moov_size)
            at = moov.find(table, at + 4)
    mdat_at = boxes[b"mdat"][0]
    rest = data[mdat_at:moov_at] + data[moov_at + moov_size :]
    return data[:mdat_at] + bytes(moov) + rest


def with_mdat_padding(data: bytes, extra: int) -> bytes:
    """``data`` (an MP4) with ``extra`` zero bytes at the end of its mdat box: a big file whose
    sample offsets still hold, with moov before or after the padding as it was."""
    for kind, at, size in _top_boxes(data):
        if kind == b"mdat":
            end = at + size
            return (
                data[:at]
                + struct.pack(">I", size + extra)
                + data[at + 4 : end]
                + (b"\0" * extra)
                + data[end:]
            )
    raise ValueError("no mdat box")


# --- PDF (pypdf) ---------------------------------------------------------------------------------


def pdf(pages: int, *, password: str | None = None, padding: int = 0) -> bytes:
    """``pages`` blank Letter pages. ``password`` encrypts it (RC4, no extra packages);
    ``padding`` bytes of a comment before the objects make a big file of the same pages."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    data = buf.getvalue()
    if padding:
        data = _pad_pdf(data, padding)
    return data


def _pad_pdf(data: bytes, padding: int) -> bytes:
    """Insert a comment line after the header, shifting the xref table's offsets to match."""
    header_end = data.index(b"\n", data.index(b"\n") + 1) + 1  # "%PDF-1.x", the binary line
    filler = b"%" + b"x" * (padding - 2) + b"\n"
    body = data[:header_end] + filler + data[header_end:]
    xref_at = body.rindex(b"\nxref\n") + 1

    def shift(entry: re.Match[bytes]) -> bytes:
        return b"%010d" % (int(entry[1]) + len(filler)) + entry[2]

    table = re.sub(rb"(?m)^(\d{10})( \d{5} n)", shift, body[xref_at:])
    table = re.sub(rb"startxref\s+\d+", b"startxref\n%d" % xref_at, table)
    return body[:xref_at] + table
