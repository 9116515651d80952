"""Ranges: one byte range of a source read and counted, the unit of work of every engine.

``stats --jobs``, ``batch`` and Beam cut a large uncompressed source into
:class:`~tunestats.io.sources.Range` objects (:func:`~tunestats.io.sources.split`); each is
counted by :func:`count_range` into an Accumulator of its own (lines numbered from 1, see
:meth:`Accumulator.shift`), and :mod:`.combine` joins them in file order. What cannot be
counted is a :class:`Failure`, worded once.

Hands on: an Accumulator per range, or a Failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config.plan import Plan
from ..io.files import SourceError
from ..io.lines import read_blocks
from ..io.outputs import range_sink
from ..io.sources import Range, SourceInfo
from .accumulate import Accumulator
from .blocks import accumulate_blocks


def count_range(
    rng: Range,
    fmt: str,
    plan: Plan,
    report: Callable[..., None] | None = None,
    parts: tuple[str | None, str | None] | None = None,
) -> Accumulator:
    """The lines that begin in the range, counted; with ``parts`` (local file names, see
    :meth:`~tunestats.io.outputs.Outputs.parts`), its kept and dropped lines are written
    there. Progress goes to ``report``."""
    blocks = read_blocks(
        rng.info.uri,
        start=rng.start,
        end=rng.end,
        expect=rng.info,
        max_line_bytes=plan.options.max_line_bytes,
    )
    if parts is None:
        return accumulate_blocks(blocks, fmt, plan, report)
    with range_sink(parts) as sink:
        return accumulate_blocks(blocks, fmt, plan, report, sink)


@dataclass(frozen=True)
class Failure:
    """Why a source, or one range of it, could not be counted."""

    info: SourceInfo
    error: str  # one line: a SourceError's own words, else the exception's type and words

    @classmethod
    def of(cls, info: SourceInfo, exc: BaseException) -> Failure:
        message = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
        return cls(info, message)
