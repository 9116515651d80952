"""Stage: a block's media parts -> media tokens per example, media drops, what was not counted.

Between parsing and counting: :meth:`MediaStage.prefetch` starts reading the objects of a block
as soon as it is parsed (so reads overlap parsing and counting), :meth:`MediaStage.evaluate`
waits for them and applies SPEC §9 to each part: the MIME type Google lists, the object's
existence, kind, size and length, a PDF page budget per example, and the tokens of §9's table.
With ``--media skip`` nothing is read, every media part counts 0 tokens, and the per-example
part limits (formats) and MIME types still apply.

Hands to counting: a :class:`MediaResult` per block (tokens per example, drops by example,
and one :class:`PartStatus` per part of every example).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formats import MediaPart
from . import rates
from .read import ANY, TIMEOUT_SECONDS, Access, MediaReader

MODES = ("read", "skip")


@dataclass(frozen=True)
class PartStatus:
    """One media part: "measured", "skipped", "not read" or "not measured", and why."""

    example: int  # index in the block's batch
    status: str
    reason: str = ""
    uri: str = ""


@dataclass
class MediaResult:
    tokens: np.ndarray  # int64 per example: media tokens counted
    drops: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # (code, path, words)
    parts: list[PartStatus] = field(default_factory=list)
    reads: int = 0  # objects first read for this block (the progress bar's count)


class MediaStage:
    """SPEC §9 for one run: the model's generation, the mode, and one reader (its cache)."""

    def __init__(
        self, mode: str, generation: str, access: Access = ANY, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"media must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.generation = generation
        self.access = access
        self.timeout = timeout
        self.reader = MediaReader(access, timeout=timeout)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MediaStage, (self.mode, self.generation, self.access, self.timeout))

    def prefetch(self, parts: list[MediaPart]) -> None:
        """Start reading the objects of ``parts`` (whose MIME type is one Vertex lists)."""
        if self.mode != "read":
            return
        for part in parts:
            if rates.mime_problem(part) is None:
                self.reader.submit(part.key, part.data)

    def evaluate(self, parts: list[MediaPart], owner: np.ndarray, examples: int) -> MediaResult:
        """Tokens, drops and statuses of a block's parts (``owner``: each part's example)."""
        result = MediaResult(np.zeros(examples, dtype=np.int64))
        if not parts:
            return result
        problems = [rates.mime_problem(p) for p in parts]
        outcomes = {}
        if self.mode == "read":
            wanted = [p for p, problem in zip(parts, problems) if problem is None]
            self.prefetch(wanted)  # the caller prefetched already; this is for direct use
            outcomes = self.reader.outcomes(p.key for p in wanted)
        pages: dict[int, int] = {}
        for part, problem, example in zip(parts, problems, owner.tolist()):
            if example in result.drops:
                continue
            if problem is not None:
                result.drops[example] = (problem.code, part.path, f"{part.path} {problem.words}")
                continue
            if self.mode == "skip":
                result.parts.append(PartStatus(example, "skipped", "", part.key))
                continue
            self._one(part, example, outcomes[part.key], result, pages)
        for example, count in pages.items():
            if count > rates.MAX_PDF_PAGES and example not in result.drops:
                words = (
                    f"the example's PDFs have {count:,} pages; at most {rates.MAX_PDF_PAGES} "
                    "pages per example"
                )
                result.drops[example] = ("media-too-many-pages", "", words)
        result.reads = self.reader.newly_read(outcomes)
        return result

    def _one(
        self,
        part: MediaPart,
        example: int,
        outcome: Any,
        result: MediaResult,
        pages: dict[int, int],
    ) -> None:
        kind = rates.declared_kind(part.mime)
        assert kind is not None  # mime_problem passed
        if outcome.status == "missing":
            words = f"{part.where} does not exist"
            result.drops[example] = ("media-missing", part.path, words)
            return
        if outcome.status != "read":
            result.parts.append(PartStatus(example, "not read", outcome.reason, part.key))
            return
        m = outcome.measurement
        problem = rates.object_problem(part, kind, m, self.generation)
        if problem is not None:
            result.drops[example] = (problem.code, part.path, problem.words)
            return
        tokens = rates.part_tokens(part, kind, m, self.generation)
        if tokens is None:
            reason = (
                m.problem or f"its {'pages' if kind == 'pdf' else 'duration'} could not be read"
            )
            result.parts.append(PartStatus(example, "not measured", reason, part.key))
            return
        if kind == "pdf":
            pages[example] = pages.get(example, 0) + (m.pages or 0)
        result.tokens[example] += tokens
        result.parts.append(PartStatus(example, "measured", "", part.key))
