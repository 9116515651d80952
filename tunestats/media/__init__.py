"""Media: the images, audio, video and PDFs of a dataset read, measured, priced and limited
(SPEC §9).

Takes from the formats stage each example's media parts (:class:`~tunestats.formats.MediaPart`:
the declared MIME type, the object's URI or inline bytes, the resolution in force, a video
segment); hands to counting, per block, the media tokens of each example as one more column,
the examples a media limit drops, and a status per part (measured, skipped, not read, not
measured) with why. The modules, in the order a part meets them:

- ``stage``: a block's parts through all of the below, and its result for counting;
- ``read``: each distinct object once per run, concurrently, through the source's file systems;
- ``measure``: what an object's bytes are (kind, size, pixels, duration, audio track, pages):
  the :class:`~.measure.Measurement`, and which reader takes which container (images through
  imagesize and PDFs through pypdf there), within a read budget;
- ``kinds``: the kind and container from the first bytes (the magic-number table);
- ``figures``: what the container readers are given and hand back, and a problem's words;
- ``mp4``: our walk of the MP4/MOV/3GP/M4A box tree;
- ``audio``: MP3, AAC, WAV, AIFF, FLAC, Ogg and ASF through mutagen;
- ``pyav``: everything else through PyAV (FFmpeg), the optional ``tunestats[media]`` extra;
- ``rates``: SPEC §9's table of tokens and limits, applied to a measured part.
"""

from __future__ import annotations

from .rates import generation
from .read import Access
from .stage import MODES, MediaResult, MediaStage, PartStatus

__all__ = ["MODES", "Access", "MediaResult", "MediaStage", "PartStatus", "generation"]
