"""Results: the statistics of a run, as the Python API returns them.

:class:`SourceStats` is one source's exact accumulator and its result; :class:`Stats` the run's
sources with what it was told and found (model, tokenizer, exactness, notes). ``to_dict`` hands
the TuningDataStats document (``document``) to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config.plan import Plan
from ..counting.accumulate import Accumulator, DatasetResult
from ..io.sources import SourceInfo
from . import document
from .cost import Cost, estimate
from .readiness import Readiness, check_job


@dataclass
class SourceStats:
    """The statistics of one source (training or validation)."""

    uri: str
    format: str
    accumulator: Accumulator
    info: SourceInfo | None = None  # the version that was read
    # Detected, no record had the keys of any format and none was kept: ``format`` is the
    # model's, assumed (issue 18).
    format_assumed: bool = False
    result: DatasetResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = self.accumulator.result()

    @property
    def format_note(self) -> str:
        """What the reports write after the format's name: why it is the model's, if assumed."""
        if self.format_assumed:
            return " (no record matched any format; assumed from the model)"
        return ""

    # Line accounting: every line is kept, dropped or blank.
    @property
    def lines(self) -> int:
        return self.result.lines

    @property
    def kept(self) -> int:
        return self.result.examples

    @property
    def dropped(self) -> int:
        return self.result.dropped

    @property
    def blank(self) -> int:
        return self.result.blank


@dataclass
class Stats:
    """What :func:`compute` returns: training (and validation) statistics and how they were made."""

    training: SourceStats
    validation: SourceStats | None
    task: str
    model: str
    tokenizer: str
    exact: bool
    notes: list[str]
    epochs: int | None = None
    batch_size: int | None = None
    readiness: Readiness = field(default_factory=Readiness)  # would Vertex take the job?
    cost: Cost | None = None

    def to_dict(self, validation: bool = False) -> dict[str, Any]:
        """The TuningDataStats document (SPEC §6) of the training (or validation) source."""
        source = self.validation if validation else self.training
        if source is None:
            raise ValueError("no validation source was given")
        return document.tuning_data_stats(
            source.result,
            task=self.task,
            epochs=self.epochs,
            batch_size=self.batch_size,
            training=source is self.training,
        )

    def to_json(self, indent: int | None = 2, validation: bool = False) -> str:
        return document.dumps(self.to_dict(validation), indent)


def make_stats(plan: Plan, training: SourceStats, validation: SourceStats | None = None) -> Stats:
    """Wrap the statistics of the sources with what the run was told and found."""
    return Stats(
        training=training,
        validation=validation,
        task=plan.options.task,
        model=plan.profile.name,
        tokenizer=plan.choice.tokenizer.name,
        exact=plan.choice.exact,
        notes=[plan.choice.note] if plan.choice.note else [],
        epochs=plan.options.epochs,
        batch_size=plan.options.batch_size,
        readiness=check_job(
            plan.profile,
            training.result,
            training.format,
            validation.result if validation else None,
            validation.format if validation else None,
        ),
        cost=estimate(
            plan.profile.name,
            training.result.billable_tokens,
            plan.options.epochs,
            plan.options.price_per_million,
        ),
    )
