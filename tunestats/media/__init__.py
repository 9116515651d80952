"""Media: the images, audio, video and PDFs of a dataset read, measured, priced and limited
(SPEC §9).

Takes from the formats stage each example's media parts (:class:`~tunestats.formats.MediaPart`:
the declared MIME type, the object's URI or inline bytes, the resolution in force, a video
segment); hands to counting media tokens per example as one more column, and the examples a
media limit drops. The modules, in the order a part meets them:
``measure`` (what an object's bytes are: kind, size, pixels, duration, audio track, pages),
``read`` (each distinct object once per run, concurrently, through the source's file
systems), ``rates`` (SPEC §9's table of tokens and limits), ``stage`` (a block's parts through
all of that).
"""

from __future__ import annotations

from .rates import generation
from .read import Access
from .stage import MODES, MediaResult, MediaStage, PartStatus

__all__ = ["MODES", "Access", "MediaResult", "MediaStage", "PartStatus", "generation"]
