"""Readiness: would Vertex accept this tuning job? The job-level limits of SPEC §8.

Per dataset, not per example: the format the model takes, the training file's size, how many
examples it holds (fewer with media), how many the validation set holds, the size of one model
message (gemini-1.0-pro-002), and the share of examples dropped. A breach drops nothing and
changes no figure; it is reported as a sentence beginning "Vertex would reject this job: ".

Hands to the reports (text, HTML, batch record, emulator): a :class:`Readiness`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.profiles import LISTED_ON, ModelProfile
from ..counting.accumulate import DatasetResult

REJECT = "Vertex would reject this job: "
# SPEC §8: the docs write "1GB"; we read it as 10^9 bytes, the smaller reading (CHOICES.md).
GB = 1_000_000_000
MEDIA_EXAMPLES = 300_000  # SPEC §8 [D]: training examples when any has media
MAX_DROPPED_DIVISOR = 10  # SPEC §8 [D: the video page; C: any drops]: at most 1/10 dropped


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 example``, ``2 examples``, ``1,234 media parts``: a count and its noun."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def verb(n: int, one: str, many: str) -> str:
    """The verb that agrees with ``n``: ``verb(1, "is", "are")``."""
    return one if n == 1 else many


@dataclass(frozen=True)
class JobLimits:
    """SPEC §8's table, one column; None: no limit known."""

    formats: tuple[str, ...]
    max_file_bytes: int | None = GB
    max_examples: int | None = None  # text-only; MEDIA_EXAMPLES when any example has media
    min_examples: int | None = None
    max_validation_examples: int | None = None
    max_model_message_tokens: int | None = None


LIMITS: dict[str, JobLimits] = {
    "gemini-3": JobLimits(("gemini",), GB, 10_000_000, None, 5_000),
    "gemini-2": JobLimits(("gemini",), GB, 1_000_000, None, 5_000),
    "gemini-1.5": JobLimits(("gemini",), GB, 1_000_000, None, 256),
    "gemini-1.0": JobLimits(("gemini-messages",), GB, None, 16, 256, 8_192),
    # SPEC §8 [D]: open models take openai-chat or prompt-completion; no other limit known.
    "open": JobLimits(("openai-chat", "prompt-completion"), None),
}


@dataclass(frozen=True)
class Readiness:
    """Every limit the job breaks (``rejections``) and what Vertex will do short of that."""

    rejections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.rejections


def check_job(
    profile: ModelProfile,
    training: DatasetResult,
    training_format: str,
    validation: DatasetResult | None = None,
    validation_format: str | None = None,
) -> Readiness:
    """The job-level limits of ``profile``'s model, applied to its datasets (SPEC §8)."""
    limits = LIMITS.get(profile.family or "")
    rejections: list[str] = []
    warnings: list[str] = []
    datasets = [("training", training, training_format)]
    if validation is not None:
        datasets.append(("validation", validation, validation_format or training_format))
    if limits is not None:
        for name, _, fmt in datasets:
            if fmt not in limits.formats:
                takes = " or ".join(limits.formats)
                rejections.append(f"the {name} set is {fmt}; {profile.name} takes {takes} records")
        rejections.extend(_training_limits(profile.name, limits, training))
        if validation is not None and limits.max_validation_examples is not None:
            n = validation.examples + validation.dropped
            if n > limits.max_validation_examples:
                rejections.append(
                    f"the validation set has {n:,} examples; {profile.name} takes at most "
                    f"{limits.max_validation_examples:,}"
                )
        if limits.max_model_message_tokens is not None:
            for name, result, _ in datasets:
                over = _above(result.longest_output, limits.max_model_message_tokens)
                if over:
                    rejections.append(
                        f"{plural(over, name + ' example')} {verb(over, 'has', 'have')} a "
                        "model message over "
                        f"{limits.max_model_message_tokens:,} tokens, the most "
                        f"{profile.name} takes in one message"
                    )
    rejections.extend(_media_resolution(profile, datasets))
    warnings.extend(_notices(profile, datasets))
    for name, result, _ in datasets:
        examples = result.examples + result.dropped
        if not result.dropped:
            continue
        share = result.dropped / examples
        if result.dropped * MAX_DROPPED_DIVISOR > examples:  # in integers: exact at 10%
            rejections.append(
                f"{_share_of(result.dropped, examples, name)} ({share:.1%}) "
                f"{verb(result.dropped, 'is', 'are')} dropped; Vertex fails a job before "
                "training when more than 10% of its examples are dropped"
            )
        else:
            warnings.append(
                f"Vertex will drop {_share_of(result.dropped, examples, name)} ({share:.1%}) "
                "and tune on the rest"
            )
    return Readiness([REJECT + r for r in rejections], warnings)


def _share_of(part: int, whole: int, name: str) -> str:
    """``1 of the 2 training examples``; ``the only training example``."""
    if whole == 1:
        return f"the only {name} example"
    return f"{part:,} of the {whole:,} {name} examples"


def _training_limits(model: str, limits: JobLimits, training: DatasetResult) -> list[str]:
    out = []
    if limits.max_file_bytes is not None and training.bytes > limits.max_file_bytes:
        out.append(
            f"the training file is {training.bytes:,} bytes of JSONL; {model} takes at most "
            f"{limits.max_file_bytes // GB} GB ({limits.max_file_bytes:,} bytes)"
        )
    examples = training.examples + training.dropped
    most = limits.max_examples
    with_media = training.media_examples > 0
    if with_media and (most is None or most > MEDIA_EXAMPLES):
        most = MEDIA_EXAMPLES
    if most is not None and examples > most:
        kind = "examples with media" if with_media else "text-only examples"
        out.append(
            f"the training set has {examples:,} examples; {model} takes at most {most:,} {kind}"
        )
    if limits.min_examples is not None and training.examples < limits.min_examples:
        out.append(
            f"the training set has {plural(training.examples, 'valid example')}; {model} needs at "
            f"least {limits.min_examples:,}"
        )
    return out


# SPEC §8: Google's list of tunable models of 2026-09-25 no longer has Gemini 2.0.
UNLISTED_PREFIXES = ("gemini-2.0-",)
# SPEC §8: what a job is warned about, by the key the formats give a line that has it.
NOTICES = {
    "function-call": (
        "{name} line {line} has a functionCall part: Vertex has rejected a Gemini 2.5 Flash "
        'job with such parts ("contains an unsupported modality [function call] in the '
        '"parts" field"), seen in November 2025 (googleapis/python-aiplatform issue 6127)'
    ),
    "thought": (
        "{name} line {line} has a thought part (thought or thoughtSignature): nothing public "
        "says how tuning treats them; tunestats counts them as text"
    ),
    "local-uri": (
        "{name} line {line} names a media object by a path: Vertex reads fileUri only from "
        "gs:// and http(s):// URIs; upload the objects to Cloud Storage"
    ),
    "inline-media": (
        "{name} line {line} has inlineData media: Google's image-tuning notebook says tuning "
        'datasets take "No inline data"; use fileData with a gs:// URI'
    ),
}


def _media_resolution(profile: ModelProfile, datasets: list) -> list[str]:
    """Gemini 2.5: one generationConfig.mediaResolution in every line of both files."""
    if not (profile.family == "gemini-2" and profile.name.startswith("gemini-2.5")):
        return []
    seen: dict[str, tuple[str, int]] = {}
    for name, result, _ in datasets:
        for value, line in result.resolutions.items():
            seen.setdefault(value, (name, line))  # the training set's line first
    if len(seen) < 2:
        return []
    (a, (na, la)), (b, (nb, lb)) = sorted(seen.items(), key=lambda item: item[1])[:2]
    return [
        f"{na} line {la} has {_resolution(a)} but {nb} line {lb} has {_resolution(b)}; "
        f"{profile.name} takes one generationConfig.mediaResolution in every line of the "
        "training and validation files"
    ]


def _resolution(value: str) -> str:
    return f"mediaResolution {value}" if value else "no mediaResolution"


def _notices(profile: ModelProfile, datasets: list) -> list[str]:
    out = []
    if profile.name.startswith(UNLISTED_PREFIXES):
        out.append(
            f"{profile.name} is not on Google's list of tunable models of {LISTED_ON} "
            "(Gemini 3.5 Flash, 3.5 Flash-Lite, 3.1 Flash-Lite, 2.5 Pro, 2.5 Flash, "
            "2.5 Flash-Lite): Vertex may refuse the job"
        )
    for key, words in NOTICES.items():
        if key == "function-call" and not profile.name.startswith("gemini-2.5"):
            continue
        for name, result, _ in datasets:
            if key in result.notices:
                out.append(words.format(name=name.capitalize(), line=result.notices[key]))
                break
    return out


def _above(counts: dict[int, int], limit: int) -> int:
    return sum(n for value, n in counts.items() if value > limit)
