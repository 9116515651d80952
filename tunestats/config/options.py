"""Options: everything a run is told, as one table.

:class:`Options` is the one option table: each field says, in its metadata, its help text for
the command line and whether it changes the numbers (a batch record made with another value is
recomputed). :func:`option_fields` lists the table; :func:`numbers_options` gives the values
that change the numbers.

Hands to ``config.plan`` (:func:`~tunestats.config.plan.make_plan` resolves the options against
the model profiles and the tokenizers) and to ``config.arguments`` (the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..formats import FORMATS, TASKS
from ..io.lines import MAX_LINE_BYTES
from ..media import MODES, Access

# A file is split across processes only in shards of at least this size: below it, starting
# the workers costs more than they save.
MIN_SHARD_BYTES = 8 << 20


def option(help: str, *, numbers: bool = False, cli: bool = True, **extra: Any) -> Any:
    """Metadata of an Options field: ``numbers`` when its value changes the statistics; ``cli``
    when the command line offers it (``extra``: argparse settings such as ``metavar``)."""
    return {"help": help, "numbers": numbers, "cli": cli, **extra}


@dataclass(frozen=True)
class Options:
    """Everything a run is told; travels as one value through the layers."""

    format: str | None = field(
        default=None,
        metadata=option("dataset format (default: detected)", numbers=True, choices=FORMATS),
    )
    task: str = field(
        default="supervised",
        metadata=option(
            "supervised (default) or distillation: prompt-only examples, DatasetStats",
            numbers=True,
            choices=TASKS,
        ),
    )
    model: str | None = field(
        default=None,
        metadata=option(
            "base model, any case (default gemini-2.5-flash): limit and tokenizer", numbers=True
        ),
    )
    tokenizer: str | None = field(
        default=None,
        metadata=option(
            "gemini, cl100k_base, o200k_base or hf:PATH (default: the model's own tokenizer "
            "where tunestats ships it, every Gemini model: exact; else cl100k_base estimates)",
            numbers=True,
        ),
    )
    tokenizer_model: str | None = field(
        default=None,
        metadata=option(
            "count with this SentencePiece file instead of the shipped Gemini one",
            numbers=True,
            metavar="PATH",
        ),
    )
    epochs: int | None = field(
        default=None,
        metadata=option(
            "epochs of the tuning job: billable tokens x N (and tuning steps, with --batch-size)",
            numbers=True,
            metavar="N",
        ),
    )
    batch_size: int | None = field(
        default=None,
        metadata=option(
            "examples per step, for tuningStepCount = epochs x ceil(examples / N); needs --epochs",
            numbers=True,
            metavar="N",
        ),
    )
    max_tokens_per_example: int | None = field(
        default=None,
        metadata=option(
            "drop examples over N tokens instead of the model's limit (and accept any --model)",
            numbers=True,
            metavar="N",
        ),
    )
    price_per_million: float | None = field(
        default=None,
        metadata=option(
            "USD per 1M training tokens for the cost estimate (default: the model's list "
            "price, where tunestats knows it)",
            numbers=True,
            metavar="X",
            type=float,
        ),
    )
    media: str = field(
        default="read",
        metadata=option(
            "read (default): read and measure each media object once, for media tokens and "
            "limits (SPEC §9); skip: read none, count media parts as 0 tokens",
            numbers=True,
            choices=MODES,
        ),
    )
    media_timeout: float = field(
        default=60.0,
        metadata=option(
            "seconds one media object may take to read before it counts as not read (default 60)",
            metavar="SECONDS",
            type=float,
        ),
    )
    max_line_bytes: int = field(
        default=MAX_LINE_BYTES,
        metadata=option(
            "drop a line longer than N bytes without reading it whole (default 268435456, "
            "256 MiB: over ten 20 MB inline parts)",
            numbers=True,
            metavar="N",
        ),
    )
    jobs: int | None = field(
        default=None,
        metadata=option(
            "processes (default: one when the tokenizer counts on threads of its own, as "
            "Gemini's do; else one per core)",
            metavar="N",
            local=True,
        ),
    )
    # The smallest byte range given to one worker; tests and Beam set it.
    shard_bytes: int = field(default=MIN_SHARD_BYTES, metadata=option("", cli=False))
    # Parse large blocks with pyarrow.json: identical results, faster.
    arrow: bool = field(default=True, metadata=option("", cli=False))
    # Count each distinct long text once: identical results, faster.
    memo: bool = field(default=True, metadata=option("", cli=False))
    # Which media URIs may be read (the emulator reads no http(s) and, unless allowed, no
    # local path).
    media_access: Access = field(default=Access(), metadata=option("", cli=False))

    def check(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if self.media not in MODES:
            raise ValueError(f"unknown media mode {self.media!r}; choose one of {', '.join(MODES)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        for name in (
            "epochs",
            "batch_size",
            "max_tokens_per_example",
            "jobs",
            "shard_bytes",
            "max_line_bytes",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        timeout = self.media_timeout
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= 86_400):
            raise ValueError(f"media_timeout must be a number of seconds > 0, not {timeout!r}")
        price = self.price_per_million
        if price is not None and not (isinstance(price, (int, float)) and 0 <= price < 1e9):
            raise ValueError(f"price_per_million must be a number of USD >= 0, not {price!r}")


def option_fields() -> list[Any]:
    """The fields of :class:`Options`, in order, with their metadata (the option table)."""
    return list(fields(Options))


def numbers_options(options: Options) -> dict[str, Any]:
    """The options that change the statistics, by name (as a batch record keeps them)."""
    return {f.name: getattr(options, f.name) for f in fields(Options) if f.metadata["numbers"]}
