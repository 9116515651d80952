"""PyAV: the containers nothing lighter reads, through FFmpeg (the optional
``tunestats[media]`` extra).

WebM, Matroska, AVI, FLV, MPEG-PS/TS, Ogg Theora, and the files the light readers give up on:
RF64 WAV, a FLAC or fragmented MP4 with no length in its header. Hands to ``measure`` (and to
``mp4`` and ``audio``, which fall back on it) :class:`~.figures.Figures`: the duration and which
tracks there are (album art is not a video track); without PyAV, a problem naming the extra.
"""

from __future__ import annotations

from .figures import Figures, MediaObject, install_hint, unreadable


def measure_with_av(obj: MediaObject, why: str = "") -> Figures:
    try:
        import av
    except ImportError:
        return Figures(problem=install_hint(obj, why))
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
        return Figures(
            has_audio=has_audio,
            has_video=has_video,
            problem=unreadable(obj.container, "no duration in the file"),
        )
    return Figures(duration=duration, has_audio=has_audio, has_video=has_video)


def _is_cover_art(stream: object) -> bool:
    """A still picture attached to an audio file (album art) shows as a video stream."""
    import av

    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    return bool(getattr(stream, "disposition", 0) & attached)
