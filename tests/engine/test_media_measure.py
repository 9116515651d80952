"""The media measurement stage (tunestats.media.measure) on real files made at test time
(tests/support/media.py): sniffed kind and container, pixels, durations against independent
figures (sample counts, FFmpeg's own reading), audio tracks, PDF pages; damaged and non-media
bytes; PyAV missing; and how little of a big object it reads."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from fractions import Fraction

import pytest

from tests.support import media
from tunestats.media.kinds import HEAD_BYTES, KINDS, sniff
from tunestats.media.measure import Measurement, measure


def measured(data: bytes) -> Measurement:
    return measure(io.BytesIO(data), len(data))


class CountingFile(io.RawIOBase):
    """A seekable file that counts what is read from it (a remote object's bill)."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0
        self.reads = 0
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._fail_after is not None and self.reads >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        self.reads += 1
        chunk = self._data.read(n)
        self.bytes_read += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()


# --- sniff ---------------------------------------------------------------------------------------

SNIFFED: dict[str, tuple[Callable[[], bytes], tuple[str, str]]] = {
    "png": (lambda: media.png(8, 8), ("image", "png")),
    "jpeg": (lambda: media.jpeg(8, 8), ("image", "jpeg")),
    "gif": (lambda: media.gif(8, 8), ("image", "gif")),
    "bmp": (lambda: media.bmp(8, 8), ("image", "bmp")),
    "tiff": (lambda: media.tiff(8, 8), ("image", "tiff")),
    "webp": (lambda: media.webp(8, 8), ("image", "webp")),
    "avif": (lambda: media.avif(8, 8), ("image", "avif")),  # (skipped without Pillow's AVIF)
    "heic": (lambda: media.heic(8, 8), ("image", "heic")),
    "heif": (lambda: media.heic(8, 8, brand=b"mif1"), ("image", "heif")),
    "wav": (lambda: media.wav(1), ("audio", "wav")),
    "aiff": (lambda: media.aiff(1), ("audio", "aiff")),
    "mp3": (lambda: media.mp3(1), ("audio", "mp3")),
    "aac": (lambda: media.aac(1), ("audio", "aac")),
    "flac": (lambda: media.flac(1), ("audio", "flac")),
    "ogg": (lambda: media.ogg(1), ("audio", "ogg")),
    "opus": (lambda: media.opus(1), ("audio", "opus")),
    "m4a": (lambda: media.m4a(1), ("audio", "m4a")),
    # The brand ('isom') cannot tell an audio-only MP4: measure() does.
    "mp4 audio": (lambda: media.mp4_audio_only(1), ("video", "mp4")),
    "mp4": (lambda: media.mp4(1, audio=True), ("video", "mp4")),
    "mov": (lambda: media.mov(1, audio=True), ("video", "mov")),
    "3gp": (lambda: media.three_gp(1, audio=True), ("video", "3gp")),
    "webm": (lambda: media.webm(1, audio=False), ("video", "webm")),
    "mkv": (lambda: media.mkv(1, audio=False), ("video", "mkv")),
    "avi": (lambda: media.avi(1, audio=False), ("video", "avi")),
    "flv": (lambda: media.flv(1, audio=False), ("video", "flv")),
    "mpeg": (lambda: media.mpeg_ps(1, audio=False), ("video", "mpeg")),
    "ts": (lambda: media.mpeg_ts(1, audio=False), ("video", "ts")),
    "asf": (lambda: media.wmv(1, audio=False), ("video", "asf")),
    "pdf": (lambda: media.pdf(1), ("pdf", "pdf")),
}


needs_avif = pytest.mark.skipif(not media.AVIF, reason="this Pillow does not write AVIF")


def _names(table: dict) -> list:
    return [pytest.param(n, marks=needs_avif) if n == "avif" else n for n in table]


@pytest.mark.parametrize("name", _names(SNIFFED))
def test_sniff_names_every_container(name: str) -> None:
    make, expected = SNIFFED[name]
    data = make()
    assert sniff(data[:HEAD_BYTES]) == expected
    assert expected[0] in KINDS


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def id3_tag(payload_size: int) -> bytes:
    return b"ID3\x04\x00\x00" + _syncsafe(payload_size) + b"\0" * payload_size


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"junk\r\n%PDF-1.7\n", ("pdf", "pdf")),  # readers accept junk before the header
        (b"\x00\x00\x00\x18ftyp3g2a\x00\x00\x00\x003g2a", ("video", "3gp")),
        (b"\x00\x00\x00\x18ftypM4B \x00\x00\x00\x00M4B ", ("audio", "m4a")),
        (b"\x00\x00\x00\x18ftypM4V \x00\x00\x00\x00M4V ", ("video", "mp4")),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1", ("image", "heic")),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heic", ("image", "heic")),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avif", ("image", "avif")),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx ", (None, None)),  # Canon raw
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", ("video", "mov")),  # QuickTime, no ftyp
        (b"\xff\xfb\x90\x00" + b"\0" * 60, ("audio", "mp3")),  # MPEG-1 layer III
        (b"\xff\xfd\x90\x00" + b"\0" * 60, ("audio", "mp2")),  # MPEG-1 layer II
        (b"\xff\xf1\x50\x80" + b"\0" * 60, ("audio", "aac")),  # ADTS, no CRC
        (b"\xff\xf9\x50\x80" + b"\0" * 60, ("audio", "aac")),  # ADTS, MPEG-2
        (b"\xff\xff\xff\xff" + b"\0" * 60, (None, None)),  # reserved bit rate: not a frame
        (id3_tag(20) + b"\xff\xf1\x50\x80\0\0\0", ("audio", "aac")),
        (id3_tag(20) + b"fLaC\0\0\0\x22", ("audio", "flac")),
        (id3_tag(20) + id3_tag(5) + b"\xff\xfb\x90\x00", ("audio", "mp3")),
        (b"FLV\x01\x04\0\0\0\x09", ("audio", "flv")),  # the header's flags: audio only
        (b"FLV\x01\x05\0\0\0\x09", ("video", "flv")),
        (b"RF64\xff\xff\xff\xffWAVEds64", ("audio", "wav")),
        (b"RIFF\0\0\0\0CDXAfmt ", (None, None)),
        (b"BM is how this text file starts, not a bitmap", (None, None)),
        (bytes(4) + b"\x47" + bytes(191) + b"\x47" + bytes(191) + b"\x47", ("video", "ts")),  # M2TS
        (b"\x00\x00\x01\xb3\x04\x00\x30\x13", ("video", "mpeg")),  # MPEG video elementary
        (b"", (None, None)),
    ],
)
def test_sniff_magic(head: bytes, expected: tuple[str | None, str | None]) -> None:
    assert sniff(head) == expected


def test_sniff_reads_the_ebml_doctype_and_ogg_first_page() -> None:
    assert sniff(media.webm(1, audio=True)) == ("video", "webm")
    assert sniff(media.mkv(1, audio=True)) == ("video", "mkv")
    assert sniff(media.opus(1)) == ("audio", "opus")
    assert sniff(media.ogg(1)) == ("audio", "ogg")


@pytest.mark.parametrize(
    "data",
    [
        b"hello, world\n",
        json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode(),
        b"\x00" * 100,
        b"",
    ],
    ids=["text", "json", "zeros", "empty"],
)
def test_non_media_has_no_kind(data: bytes) -> None:
    assert measured(data) == Measurement(size=len(data), kind=None, container=None)


# --- images --------------------------------------------------------------------------------------

IMAGES = {
    "png": media.png,
    "jpeg": media.jpeg,
    "gif": media.gif,
    "bmp": media.bmp,
    "tiff": media.tiff,
    "webp": media.webp,
    "webp lossless": lambda w, h: media.webp(w, h, lossless=True),
    "avif": media.avif,
    "heic": media.heic,
}


@pytest.mark.parametrize("name", _names(IMAGES))
@pytest.mark.parametrize(("width", "height"), [(1, 1), (37, 1000), (3000, 17)])
def test_image_sizes(name: str, width: int, height: int) -> None:
    data = IMAGES[name](width, height)
    m = measured(data)
    assert (m.kind, m.width, m.height, m.problem) == ("image", width, height, None)
    assert m.size == len(data)
    assert (m.duration, m.has_audio, m.pages) == (None, None, None)


def test_jpeg_frame_header_after_big_app_segments_is_found_without_reading_them() -> None:
    data = media.jpeg(640, 480, app_padding=3_000_000)  # SOF about 3 MB in
    f = CountingFile(data)
    m = measure(f, len(data))
    assert (m.width, m.height, m.problem) == (640, 480, None)
    assert f.bytes_read < 200_000


def test_jpeg_sizes_are_as_displayed() -> None:
    m = measured(media.jpeg_rotated(40, 30))  # EXIF orientation 6: shown rotated
    assert (m.width, m.height) == (30, 40)


# --- audio ---------------------------------------------------------------------------------------


def by_samples(seconds: float, rate: int, data: bytes) -> float:
    return round(seconds * rate) / rate


def by_decoding(seconds: float, rate: int, data: bytes) -> float:
    return media.decoded_seconds(data)


@pytest.mark.parametrize(
    ("maker", "container", "truth"),
    [
        (media.wav, "wav", by_samples),
        (media.aiff, "aiff", by_samples),
        (media.flac, "flac", by_samples),
        (media.mp3, "mp3", by_samples),  # frame count less encoder delay and padding
        (media.m4a, "m4a", by_samples),  # the edit list cuts AAC's priming and padding
        (media.ogg, "ogg", by_decoding),  # FFmpeg's Vorbis encoder pads to 64-sample blocks
    ],
)
@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_audio_durations_are_exact(maker, container: str, truth, rate: int) -> None:
    """These containers carry the sample count: the duration is exact, and FFmpeg agrees."""
    seconds = 2.5
    data = maker(seconds, rate)
    m = measured(data)
    assert (m.kind, m.container, m.problem, m.has_audio) == ("audio", container, None, None)
    assert m.duration == pytest.approx(truth(seconds, rate, data), abs=1e-6)
    assert m.duration == pytest.approx(media.probe(data).duration, abs=1e-3)


def test_opus_duration_leaves_out_the_pre_skip() -> None:
    """RFC 7845: granule position minus pre-skip. FFmpeg's figure keeps the 312-sample
    pre-skip (6.5 ms) in."""
    m = measured(media.opus(2.5))
    assert (m.kind, m.container, m.duration) == ("audio", "opus", 2.5)
    assert media.probe(media.opus(2.5)).duration == pytest.approx(2.5 + 312 / 48000)


def test_mp3_without_a_xing_frame_is_timed_by_its_bit_rate() -> None:
    data = media.mp3(10, xing=False)
    m = measured(data)
    assert (m.kind, m.container, m.problem) == ("audio", "mp3", None)
    assert m.duration == pytest.approx(10, rel=0.02)
    assert m.duration == pytest.approx(media.probe(data).duration, abs=1e-3)  # FFmpeg's too


def test_adts_aac_duration_is_an_estimate() -> None:
    """ADTS has no length field: mutagen estimates it from the first frames' bit rate."""
    data = media.aac(10)
    m = measured(data)
    assert (m.kind, m.container, m.problem) == ("audio", "aac", None)
    assert m.duration == pytest.approx(10, rel=0.05)


def test_audio_only_mp4_is_audio() -> None:
    m = measured(media.mp4_audio_only(3))
    assert (m.kind, m.container, m.duration, m.has_audio) == ("audio", "mp4", 3.0, None)


def test_audio_only_webm_is_audio() -> None:
    data = media.webm_audio(3)
    assert sniff(data) == ("video", "webm")
    m = measured(data)
    assert (m.kind, m.container, m.has_audio, m.problem) == ("audio", "webm", None, None)
    assert m.duration == pytest.approx(media.probe(data).duration, abs=1e-3)


def test_wma_duration() -> None:
    data = media.wma(3)
    m = measured(data)
    assert (m.kind, m.container, m.problem) == ("audio", "asf", None)
    assert m.duration == pytest.approx(media.probe(data).duration, abs=1e-3)


def test_long_wav() -> None:
    m = measured(media.wav(61 * 60, rate=1000))
    assert (m.kind, m.duration) == ("audio", 3660.0)


def test_mp3_behind_an_id3_tag_bigger_than_the_head() -> None:
    data = id3_tag(HEAD_BYTES * 2) + media.mp3(2)
    m = measured(data)
    assert (m.kind, m.container, m.problem) == ("audio", "mp3", None)
    assert m.duration == pytest.approx(2.0, abs=1e-6)


def test_aac_behind_an_id3_tag_bigger_than_the_head() -> None:
    assert sniff(id3_tag(HEAD_BYTES * 2)) == ("audio", "mp3")  # all sniff can see
    m = measured(id3_tag(HEAD_BYTES * 2) + media.aac(3))
    assert (m.kind, m.container, m.problem) == ("audio", "aac", None)
    assert m.duration == pytest.approx(3, rel=0.1)


# --- video ---------------------------------------------------------------------------------------

VIDEOS: dict[str, tuple[Callable[..., bytes], str]] = {
    "mp4": (media.mp4, "mp4"),
    "mov": (media.mov, "mov"),
    "3gp": (media.three_gp, "3gp"),
    "webm": (media.webm, "webm"),
    "mkv": (media.mkv, "mkv"),
    "avi": (media.avi, "avi"),
    "flv": (media.flv, "flv"),
    "mpeg-ps": (media.mpeg_ps, "mpeg"),
    "mpeg-ts": (media.mpeg_ts, "ts"),
    "wmv": (media.wmv, "asf"),
}


@pytest.mark.parametrize("audio", [False, True], ids=["silent", "with audio"])
@pytest.mark.parametrize("name", VIDEOS)
def test_video_duration_and_audio_track(name: str, audio: bool) -> None:
    maker, container = VIDEOS[name]
    data = maker(4, audio=audio)
    m = measured(data)
    assert (m.kind, m.container, m.has_audio, m.problem) == ("video", container, audio, None)
    reference = media.probe(data)
    assert reference.has_audio is audio
    # ASF: mutagen takes the play duration less the preroll; FFmpeg its own packet timestamps.
    tolerance = 0.1 if name == "wmv" else 1e-3
    assert m.duration == pytest.approx(reference.duration, abs=tolerance)
    if name != "mpeg-ps" or audio:  # FFmpeg's estimate for tiny video-only PS is off (2.3 s)
        assert m.duration == pytest.approx(4, abs=0.25)  # AAC priming, Opus padding at most


@pytest.mark.parametrize("maker", [media.mp4, media.mov, media.three_gp])
@pytest.mark.parametrize("audio", [False, True], ids=["silent", "with audio"])
def test_mp4_family_duration_is_the_movie_header_s(maker: Callable[..., bytes], audio: bool):
    """mvhd holds the movie's duration (ms here): the frames' exactly; the AAC track's priming
    is cut by an edit list, so with audio it is the same."""
    m = measured(maker(3.5, audio=audio, fps=2))
    assert (m.duration, m.has_audio) == (3.5, audio)


@pytest.mark.parametrize("audio", [False, True], ids=["silent", "with audio"])
def test_long_video_stays_small_and_measures_exactly(audio: bool) -> None:
    data = media.mp4(301, audio=audio, fps=Fraction(1, 7))  # 43 frames
    assert len(data) < 100_000
    m = measured(data)
    assert (m.kind, m.duration, m.has_audio) == ("video", 301.0, audio)
    assert media.probe(data).duration == 301.0


def test_moov_before_or_after_mdat() -> None:
    for faststart in (False, True):
        m = measured(media.mp4(3, audio=True, faststart=faststart))
        assert (m.duration, m.has_audio, m.problem) == (3.0, True, None)


def test_fragmented_mp4_without_a_header_duration_needs_pyav(monkeypatch) -> None:
    data = media.fragmented_mp4(5)
    m = measured(data)
    assert (m.kind, m.duration, m.has_audio, m.problem) == ("video", 5.0, False, None)
    monkeypatch.setitem(sys.modules, "av", None)
    m = measured(data)
    assert m.duration is None and m.has_audio is False
    assert m.problem.startswith("install tunestats[media] to measure .mp4 video")


# --- PyAV missing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "words"),
    [
        (lambda: media.webm(2, audio=True), ".webm video"),
        (lambda: media.mkv(2, audio=False), ".mkv video"),
        (lambda: media.avi(2, audio=False), ".avi video"),
        (lambda: media.flv(2, audio=False), ".flv video"),
        (lambda: media.mpeg_ps(2, audio=False), ".mpg video"),
        (lambda: media.mpeg_ts(2, audio=False), ".ts video"),
    ],
)
def test_without_pyav_containers_only_it_reads_say_what_to_install(monkeypatch, maker, words):
    data = maker()
    monkeypatch.setitem(sys.modules, "av", None)  # "import av" fails as if not installed
    m = measured(data)
    assert m.problem == f"install tunestats[media] to measure {words}"
    assert m.kind == "video" and m.duration is None  # never a silent zero


def test_without_pyav_the_light_readers_still_measure(monkeypatch) -> None:
    made = [media.mp4(2, audio=True), media.mp3(2), media.wav(2), media.ogg(2), media.pdf(2)]
    made += [media.png(5, 5), media.wmv(2, audio=True)]
    monkeypatch.setitem(sys.modules, "av", None)
    for data in made:
        m = measured(data)
        assert m.problem is None and m.kind is not None, m


# --- PDF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pages", [1, 3, 301])
def test_pdf_pages(pages: int) -> None:
    m = measured(media.pdf(pages))
    assert (m.kind, m.container, m.pages, m.problem) == ("pdf", "pdf", pages, None)
    assert (m.width, m.duration) == (None, None)


def test_pdf_with_junk_before_the_header() -> None:
    assert measured(b"\xef\xbb\xbf\r\n" + media.pdf(3)).pages == 3


def test_password_protected_pdf_is_a_problem() -> None:
    m = measured(media.pdf(3, password="secret"))
    assert (m.kind, m.pages) == ("pdf", None)
    assert "password" in m.problem


def test_pdf_with_only_an_owner_password_is_counted() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(4):
        writer.add_blank_page(100, 100)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    assert measured(buf.getvalue()).pages == 4


# --- damaged bytes -------------------------------------------------------------------------------


def test_truncated_mp4_is_a_problem() -> None:
    data = media.mp4(3, audio=True)  # moov at the end: the cut loses it
    m = measured(data[: len(data) // 2])
    assert (m.kind, m.container, m.duration) == ("video", "mp4", None)
    assert m.problem.startswith("not a readable MP4: truncated")


def test_truncated_fast_start_mp4_keeps_its_figures_and_says_so() -> None:
    data = media.mp4(3, audio=True, faststart=True)
    m = measured(data[:-100])
    assert (m.duration, m.has_audio) == (3.0, True)
    assert (
        m.problem == "not a readable MP4: truncated: its 'mdat' box runs past the end of the file"
    )


@pytest.mark.parametrize(
    ("data", "kind", "container"),
    [
        (b"%PDF-1.7\n" + b"garbage " * 20_000, "pdf", "pdf"),
        (b"%PDF-1.4\n" + bytes(range(256)) * 400, "pdf", "pdf"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isom" + b"\xff" * 100, "video", "mp4"),
        (
            b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isom\x00\x00\x00\x10moov" + b"\0" * 8,
            "video",
            "mp4",
        ),
        (b"\x89PNG\r\n\x1a\n", "image", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image", "jpeg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio", "wav"),
        (b"fLaC\x00\x00\x00\x22", "audio", "flac"),
        (b"OggS\x00\x02" + b"\0" * 30, "audio", "ogg"),
        (b"\x1a\x45\xdf\xa3\x84\x42\x82\x84webm" + b"\0" * 50, "video", "webm"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x05hello", "audio", "mp3"),
    ],
    ids=[
        "pdf-text",
        "pdf-binary",
        "mp4-no-boxes",
        "mp4-empty-moov",
        "png",
        "jpeg",
        "wav",
        "flac",
        "ogg",
        "webm",
        "mp3",
    ],
)
def test_damaged_files_give_a_problem_not_an_exception(data: bytes, kind: str, container: str):
    m = measured(data)
    assert (m.kind, m.container) == (kind, container)
    assert m.problem, m
    assert (m.duration, m.pages) == (None, None)


def _every_maker() -> list[bytes]:
    return [
        media.png(9, 9), media.jpeg(9, 9), media.gif(9, 9), media.webp(9, 9), media.heic(9, 9),
        media.wav(1), media.mp3(1), media.aac(1), media.flac(1), media.ogg(1), media.opus(1),
        media.m4a(1), media.wma(1), media.mp4(1, audio=True), media.mp4(1, audio=True,
        faststart=True), media.webm(1, audio=True), media.mkv(1, audio=True),
        media.avi(1, audio=True), media.flv(1, audio=True), media.mpeg_ts(1, audio=True),
        media.wmv(1, audio=True), media.pdf(2),
    ]  # fmt: skip


def test_cut_or_scrambled_files_never_raise() -> None:
    for data in _every_maker():
        kind, _ = sniff(data)
        cuts = {12, 40, 100, len(data) // 3, len(data) // 2, len(data) - 1}
        for cut in sorted(c for c in cuts if c < len(data)):
            m = measured(data[:cut])
            assert m.size == cut
        scrambled = bytearray(data)
        for at in range(16, len(data), 7):
            scrambled[at] ^= 0x5A
        m = measured(bytes(scrambled))
        assert m.kind in (kind, "audio", "video", None)


# --- I/O errors and how much is read -------------------------------------------------------------


@pytest.mark.parametrize(
    "maker",
    [
        lambda: media.mp4(2, audio=True),
        lambda: media.mp3(2),
        lambda: media.wav(2),
        lambda: media.webm(2, audio=False),
        lambda: media.pdf(2),
        lambda: media.wmv(2, audio=False),
    ],
    ids=["mp4", "mp3", "wav", "webm", "pdf", "asf"],
)
def test_the_file_s_own_errors_propagate(maker: Callable[[], bytes]) -> None:
    data = maker()
    with pytest.raises(ConnectionResetError):
        measure(CountingFile(data, fail_after=1), len(data))  # after the head


@pytest.mark.parametrize(
    ("name", "make", "check"),
    [
        ("pdf", lambda: media.pdf(3, padding=20_000_000), lambda m: m.pages == 3),
        (
            "mp4 moov first",
            lambda: media.with_mdat_padding(media.mp4(3, audio=True, faststart=True), 20_000_000),
            lambda m: (m.duration, m.has_audio) == (3.0, True),
        ),
        (
            "mp4 moov last",
            lambda: media.with_mdat_padding(media.mp4(3, audio=True), 20_000_000),
            lambda m: (m.duration, m.has_audio) == (3.0, True),
        ),
        ("wav", lambda: media.wav(61 * 60), lambda m: m.duration == 3660.0),
        ("mp3", lambda: id3_tag(5_000_000) + media.mp3(30), lambda m: m.duration == 30.0),
    ],
)
def test_reads_a_small_part_of_a_big_object(name, make, check) -> None:
    data = make()
    assert len(data) > 5_000_000
    f = CountingFile(data)
    m = measure(f, len(data))
    assert check(m), m
    assert m.problem is None
    assert f.bytes_read < 256 * 1024, f.bytes_read


def test_a_reader_that_wanders_is_stopped(monkeypatch) -> None:
    """A damaged header can send a reader through the whole object (pypdf rebuilding an xref
    table a byte at a time): past the read budget the object is given up, with a problem."""
    from tunestats.media import measure as stage

    monkeypatch.setattr(stage, "READ_CALLS_BUDGET", 100)  # a 301-page PDF takes thousands
    m = measured(media.pdf(301))
    assert (m.kind, m.pages) == ("pdf", None)
    assert m.problem == (
        "not a readable PDF: its headers are damaged or unusual (measuring it would read too "
        "much of it)"
    )


def test_reader_of_a_remote_like_file_without_readinto() -> None:
    """fsspec's files offer read/seek/tell: nothing more is needed."""

    class Minimal:
        def __init__(self, data: bytes) -> None:
            self._io = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._io.read(n)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self._io.seek(offset, whence)

        def tell(self) -> int:
            return self._io.tell()

    for data in (media.webm(2, audio=True), media.mp3(2), media.pdf(2), media.jpeg(5, 5)):
        m = measure(Minimal(data), len(data))
        assert m.problem is None and m.kind is not None


def test_measurement_is_a_frozen_value() -> None:
    m = measured(media.png(2, 3))
    with pytest.raises(AttributeError):
        m.width = 5  # type: ignore[misc]
    assert m == Measurement(size=m.size, kind="image", container="png", width=2, height=3)
    assert HEAD_BYTES == 64 * 1024
