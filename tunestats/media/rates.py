"""Rates and limits: a measured media part -> its tokens, or the limit it breaks (SPEC §9).

Pure functions over SPEC §9's table: which generation a model belongs to, which media
resolution is in force for a part, how many tokens an image, a video (frames at 1 per second,
plus its audio track), an audio file or a PDF costs, and the limits of one media object (size,
duration, pages, the MIME types Google lists, bytes of the declared kind).

Hands to ``media.stage``: :func:`part_tokens`, and :func:`mime_problem` and
:func:`object_problem` (a drop code and its words), per part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..formats import MediaPart
from .measure import Measurement

LOW, MEDIUM, HIGH, ULTRA = (
    "MEDIA_RESOLUTION_LOW",
    "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
    "MEDIA_RESOLUTION_ULTRA_HIGH",
)
RESOLUTIONS = (LOW, MEDIUM, HIGH, ULTRA)
DEFAULT = "default"  # MEDIA_RESOLUTION_UNSPECIFIED, or none given

# SPEC §9, one row per (generation, kind): tokens per unit at each resolution; DEFAULT is the
# resolution Google names as the default (marked * in SPEC). Generation "1.5" covers 1.5 and
# 2.0 (one rate whatever the resolution); ULTRA_HIGH exists only for images of Gemini 3 [D],
# so elsewhere it is read as HIGH [C].
_IMAGE = {
    "1.5": {DEFAULT: 258},
    "2.5": {LOW: 64, MEDIUM: 256, HIGH: 258, DEFAULT: 258},
    "3": {LOW: 280, MEDIUM: 560, HIGH: 1120, ULTRA: 2240, DEFAULT: 1120},
}
_FRAME = {
    "1.5": {DEFAULT: 263},  # audio included [D: "video at 263 tokens per second"]
    "2.5": {LOW: 64, MEDIUM: 256, HIGH: 256, DEFAULT: 256},
    "3": {LOW: 70, MEDIUM: 70, HIGH: 280, DEFAULT: 70},
}
_PAGE = {
    "1.5": {DEFAULT: 258},
    "2.5": {LOW: 64, MEDIUM: 256, HIGH: 258, DEFAULT: 258},
    "3": {LOW: 280, MEDIUM: 560, HIGH: 1120, DEFAULT: 560},
}
AUDIO_PER_SECOND = {"1.5": 32, "2.5": 32, "3": 25}

# SPEC §9 [D: the four media tuning pages]; sizes in bytes, "20MB" read as 20 * 10^6 as the
# 1 GB file limit is (CHOICES.md).
MB = 1_000_000
MAX_BYTES = {"image": 20 * MB, "audio": 100 * MB, "video": 100 * MB, "pdf": 20 * MB}
MAX_AUDIO_SECONDS = 60 * 60
MAX_VIDEO_SECONDS = 5 * 60  # MEDIUM or HIGH
MAX_VIDEO_SECONDS_LOW = 20 * 60
MAX_PDF_PAGES = 300  # per example

# The MIME types Google's understanding pages list for each kind (CHOICES.md, "Media": the
# Vertex pages' lists; audio/opus from an older edition of the audio page).
MIME_TYPES = {
    "image": ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"),
    "video": (
        "video/x-flv",
        "video/quicktime",
        "video/mpeg",
        "video/mpegs",
        "video/mpg",
        "video/mp4",
        "video/webm",
        "video/wmv",
        "video/3gpp",
    ),
    "audio": (
        "audio/x-aac",
        "audio/flac",
        "audio/mp3",
        "audio/m4a",
        "audio/mpeg",
        "audio/mpga",
        "audio/mp4",
        "audio/ogg",
        "audio/opus",
        "audio/pcm",
        "audio/wav",
        "audio/webm",
    ),
    "pdf": ("application/pdf",),
}
KIND_NAMES = {"image": "an image", "audio": "audio", "video": "a video", "pdf": "a PDF"}


def generation(family: str | None, model: str) -> str:
    """SPEC §9's column for a model: "1.5" (1.5 and 2.0), "2.5" or "3"."""
    if family == "gemini-3":
        return "3"
    if family == "gemini-2":
        return "1.5" if model.startswith("gemini-2.0") else "2.5"
    if family in ("gemini-1.5", "gemini-1.0"):
        return "1.5"
    return "2.5"  # a model tunestats does not know: the rates of the default model [C]


def declared_kind(mime: str) -> str | None:
    """The media kind a MIME type names (image/*, audio/*, video/*, application/pdf)."""
    mime = mime.lower()
    if mime == "application/pdf":
        return "pdf"
    top = mime.split("/", 1)[0]
    return top if top in ("image", "audio", "video") else None


def resolution(part: MediaPart, gen: str) -> str:
    """The resolution in force: the part's own (Gemini 3 only), else the line's, else the
    default. Unknown values count as the default [C]."""
    level = part.part_resolution if gen == "3" else None
    level = level or part.line_resolution
    return level if level in RESOLUTIONS else DEFAULT


def _rate(table: dict[str, dict[str, int]], gen: str, level: str) -> int:
    row = table[gen]
    if level == ULTRA and ULTRA not in row:
        level = HIGH
    return row.get(level, row[DEFAULT])


def seconds_used(part: MediaPart, m: Measurement) -> float:
    """The seconds of a video or audio part that count: its ``videoMetadata`` segment, if
    any, within the object's duration."""
    duration = m.duration or 0.0
    start = min(max(part.start or 0.0, 0.0), duration)
    end = duration if part.end is None else min(max(part.end, start), duration)
    return end - start


def part_tokens(part: MediaPart, kind: str, m: Measurement | None, gen: str) -> int | None:
    """SPEC §9: the tokens of one part; None when they need a figure that was not measured."""
    level = resolution(part, gen)
    if kind == "image":
        return _rate(_IMAGE, gen, level)
    if m is None:
        return None
    if kind == "pdf":
        return None if m.pages is None else m.pages * _rate(_PAGE, gen, level)
    if m.duration is None:
        return None
    seconds = seconds_used(part, m)
    audio = math.ceil(seconds * AUDIO_PER_SECOND[gen])
    if kind == "audio":
        return audio
    frames = math.ceil(seconds)  # 1 frame per second [D], a started second counts [C]
    tokens = frames * _rate(_FRAME, gen, level)
    if gen != "1.5" and m.has_audio:  # 1.5/2.0's 263 per second includes the audio
        tokens += audio
    return tokens


@dataclass(frozen=True)
class Problem:
    """Why a part's example is dropped: a drop code (``formats.drops.KINDS``) and the words."""

    code: str
    words: str


def mime_problem(part: MediaPart) -> Problem | None:
    """The declared MIME type must be one Google lists for its kind (no object needed)."""
    kind = declared_kind(part.mime)
    if kind is None or part.mime.lower() not in MIME_TYPES[kind]:
        listed = ", ".join(t for types in MIME_TYPES.values() for t in types)
        return Problem(
            "media-type", f"mimeType {part.mime!r} is not a media type Vertex lists ({listed})"
        )
    return None


def object_problem(part: MediaPart, kind: str, m: Measurement, gen: str) -> Problem | None:
    """The limits of one object (SPEC §9): its bytes of the declared kind, its size, its
    length (at the resolution in force)."""
    where = part.where
    if m.kind != kind:
        if m.kind is None:
            what = "not a media file tunestats recognises"
        else:
            what = f"{KIND_NAMES[m.kind]} ({m.container.upper()})" if m.container else m.kind
        return Problem(
            "media-mismatch",
            f"{where} is declared {part.mime} but its bytes are {what}",
        )
    limit = MAX_BYTES[kind]
    if m.size > limit:
        return Problem(
            "media-too-large",
            f"{where} is {m.size:,} bytes; {KIND_NAMES[kind]} may be at most {limit // MB} MB",
        )
    if kind in ("audio", "video") and m.duration is not None:
        seconds = seconds_used(part, m)
        if kind == "audio" and seconds > MAX_AUDIO_SECONDS:
            return Problem(
                "media-too-long",
                f"{where} is {_duration(seconds)} of audio; at most 60 minutes per example",
            )
        if kind == "video":
            low = resolution(part, gen) == LOW
            allowed = MAX_VIDEO_SECONDS_LOW if low else MAX_VIDEO_SECONDS
            if seconds > allowed:
                at = "LOW resolution" if low else "MEDIUM or HIGH resolution"
                return Problem(
                    "media-too-long",
                    f"{where} is {_duration(seconds)} of video; at most {allowed // 60} minutes "
                    f"at {at}",
                )
    return None


def _duration(seconds: float) -> str:
    whole = int(seconds)
    text = f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{seconds:.1f} s"
    return f"{text} ({seconds:,.1f} s)" if whole >= 60 else text
