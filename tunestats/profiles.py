"""Model profiles: base model names to their per-example token limit and defaults (SPEC §4).

Hands to the pipeline: a :class:`ModelProfile`, which fixes the "too long" limit, the format
assumed when detection is undecided, and which Gemini tokenizer model counts exactly for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_MODEL = "gemini-2.5-flash"

LIMIT_GEMINI_2 = 131_072  # SPEC §4 [D]: Gemini 2.0 and later, Gemini 3.5 and 3.1 included
LIMIT_GEMINI_15 = 32_768  # SPEC §4 [D]: Google's notebook uses 32 * 1024
LIMIT_OPEN = 8_192  # SPEC §4 [D]: open models unless known otherwise


@dataclass(frozen=True)
class ModelProfile:
    name: str
    max_tokens_per_example: int
    format: str
    # Key of tokenizers.GEMINI_TOKENIZER_MODELS that counts exactly for this model, if any.
    gemini_tokenizer: str | None
    # Which job-level limits apply (SPEC §8, tunestats.readiness.LIMITS); None: none known.
    family: str | None = None


def _gemini3(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_2, "gemini", "gemma4", "gemini-3")


def _gemini2(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_2, "gemini", "gemma3", "gemini-2")


def _gemini15(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_15, "gemini", "gemma2", "gemini-1.5")


def _open(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_OPEN, "openai-chat", None, "open")


_PROFILES = [
    # SPEC §4 and §8: tunable since Google's supervised tuning page of 2026-09-25.
    *(_gemini3(n) for n in ("gemini-3.5-flash", "gemini-3.5-flash-lite", "gemini-3.1-flash-lite")),
    *(
        _gemini2(n)
        for n in (
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
            "gemini-2.0-flash",
            "gemini-2.0-flash-001",
            "gemini-2.0-flash-lite",
            "gemini-2.0-flash-lite-001",
        )
    ),
    *(
        _gemini15(n)
        for n in (
            "gemini-1.5-pro",
            "gemini-1.5-pro-001",
            "gemini-1.5-pro-002",
            "gemini-1.5-flash",
            "gemini-1.5-flash-001",
            "gemini-1.5-flash-002",
        )
    ),
    # CHOICES.md: no published limit found; the Gemini 1.5 one.
    ModelProfile("gemini-1.0-pro-002", LIMIT_GEMINI_15, "gemini-messages", "gemma2", "gemini-1.0"),
    *(
        _open(n)
        for n in (
            "meta/llama3_1@llama-3.1-8b",
            "meta/llama3_1@llama-3.1-8b-instruct",
            "meta/llama3-2@llama-3.2-1b-instruct",
            "meta/llama3-2@llama-3.2-3b-instruct",
            "meta/llama3-3@llama-3.3-70b-instruct",
            "google/gemma2@gemma-2-9b-it",
            "google/gemma2@gemma-2-27b-it",
            "google/gemma3@gemma-3-4b-it",
            "google/gemma3@gemma-3-12b-it",
            "google/gemma3@gemma-3-27b-it",
            "qwen/qwen3@qwen3-8b",
            "qwen/qwen3@qwen3-32b",
        )
    ),
]

PROFILES: dict[str, ModelProfile] = {p.name: p for p in _PROFILES}


class UnknownModel(ValueError):
    pass


def short_name(name: str) -> str:
    """``publishers/google/models/gemini-2.5-flash`` and ``meta/x@y`` -> the bare id."""
    return name.rsplit("/models/", 1)[-1]


def _lookup(name: str) -> ModelProfile | None:
    """By full name or by the id after ``@``, case-insensitively (Gemini-2.5-Flash works)."""
    lowered = name.lower()
    for profile in _PROFILES:
        if lowered in (profile.name.lower(), profile.name.rsplit("@", 1)[-1].lower()):
            return profile
    return None


def _unknown(name: str) -> str:
    import difflib

    names = [p.name for p in _PROFILES]
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
    hint = f"did you mean {next(n for n in names if n.lower() == close[0])}? " if close else ""
    return (
        f"unknown model {name!r}; {hint}known models: {', '.join(names)} "
        "(or give --max-tokens-per-example to use any name)"
    )


def get_profile(name: str | None, max_tokens_per_example: int | None = None) -> ModelProfile:
    """The profile of ``name``; any name is accepted when the limit is given explicitly."""
    name = short_name(name or DEFAULT_MODEL)
    profile = _lookup(name)
    if profile is None:
        if max_tokens_per_example is None:
            raise UnknownModel(_unknown(name))
        profile = ModelProfile(name, max_tokens_per_example, "gemini", None)
    if max_tokens_per_example is not None:
        profile = replace(profile, max_tokens_per_example=max_tokens_per_example)
    return profile
