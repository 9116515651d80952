"""Model profiles: base model names to their per-example token limit and defaults (SPEC §4).

Hands to the pipeline: a :class:`ModelProfile`, which fixes the "too long" limit, the format
assumed when detection is undecided, and which tokenizer counts exactly for it (a Gemini
model shipped with tunestats, which Gemma 2 and 3 share; Llama's or Qwen's, from the
``open-models`` extra).
To ``tunestats models``: each model's generation and whether Vertex tunes it now (SPEC §8).
An unknown name is an error that suggests a known one of the same generation first.
"""

from __future__ import annotations

import difflib
import re
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
    # Key of the model's own tokenizer, if tunestats knows one: of
    # tokenizers.GEMINI_TOKENIZER_MODELS (shipped) or tokenizers.open_models.PACKAGED.
    tokenizer: str | None
    # Which job-level limits apply (SPEC §8, tunestats.job.readiness.LIMITS); None: none known.
    family: str | None = None


def _gemini3(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_2, "gemini", "gemma4", "gemini-3")


def _gemini2(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_2, "gemini", "gemma3", "gemini-2")


def _gemini15(name: str) -> ModelProfile:
    return ModelProfile(name, LIMIT_GEMINI_15, "gemini", "gemma2", "gemini-1.5")


def _open(name: str, tokenizer: str | None) -> ModelProfile:
    return ModelProfile(name, LIMIT_OPEN, "openai-chat", tokenizer, "open")


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
    # Open models: each with its own tokenizer (README "Tokenizers", CHOICES.md "Open models'
    # tokenizers"); Gemma's are the Gemini files of the same vocabulary.
    *(
        _open(n, "llama3")
        for n in (
            "meta/llama3_1@llama-3.1-8b",
            "meta/llama3_1@llama-3.1-8b-instruct",
            "meta/llama3-2@llama-3.2-1b-instruct",
            "meta/llama3-2@llama-3.2-3b-instruct",
            "meta/llama3-3@llama-3.3-70b-instruct",
        )
    ),
    *(_open(n, "gemma2") for n in ("google/gemma2@gemma-2-9b-it", "google/gemma2@gemma-2-27b-it")),
    *(
        _open(n, "gemma3")
        for n in (
            "google/gemma3@gemma-3-4b-it",
            "google/gemma3@gemma-3-12b-it",
            "google/gemma3@gemma-3-27b-it",
        )
    ),
    *(_open(n, "qwen3") for n in ("qwen/qwen3@qwen3-8b", "qwen/qwen3@qwen3-32b")),
]

PROFILES: dict[str, ModelProfile] = {p.name: p for p in _PROFILES}


class UnknownModel(ValueError):
    pass


def short_name(name: str) -> str:
    """``publishers/google/models/gemini-2.5-flash`` and ``meta/x@y`` -> the bare id."""
    return name.rsplit("/models/", 1)[-1]


def _keys(profile: ModelProfile) -> tuple[str, ...]:
    """The lowercased names a profile answers to: its name, and the id after ``@``."""
    return tuple(dict.fromkeys((profile.name.lower(), profile.name.rsplit("@", 1)[-1].lower())))


def generation(name: str) -> str:
    """A model's generation: ``gemini-2.5`` of ``gemini-2.5-flash-001``, ``llama-3.1`` of
    ``meta/llama3_1@llama-3.1-8b``, ``qwen3`` of ``qwen3-8b`` (the name up to its first
    version number)."""
    bare = short_name(name).rsplit("@", 1)[-1].lower()
    found = re.match(r"[a-z]+-?\d+(?:\.\d+)?", bare)
    return found.group(0) if found else bare


def generation_title(name: str) -> str:
    """``Gemini 2.5``, ``Llama 3.1``, ``Qwen 3``: the generation as people write it."""
    words = re.sub(r"([a-z])-?(\d)", r"\1 \2", generation(name))
    return words[:1].upper() + words[1:]


# SPEC §8: Google's list of tunable models of 2026-09-25.
LISTED_ON = "2026-09-25"
LISTED = (
    "gemini-3.5-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
)


def tunable_now(profile: ModelProfile) -> str:
    """Whether Vertex tunes the model now (SPEC §8): ``yes``; ``yes (open)`` for a Vertex open
    model; ``no (delisted)`` for Gemini 2.0, on earlier lists but not on that of LISTED_ON;
    ``no`` for Gemini 1.x."""
    if profile.family == "open":
        return "yes (open)"
    if profile.name in LISTED:
        return "yes"
    return "no (delisted)" if profile.family == "gemini-2" else "no"


def suggest(name: str) -> str | None:
    """The known model a mistyped ``name`` most likely means, of the same generation first:
    ``gemini-2.5-flash-001`` -> ``gemini-2.5-flash``, never ``gemini-2.0-flash-001``."""
    wanted = short_name(name).lower()
    # A known name with something after it (a version suffix): the longest such name.
    longer = [(len(k), p.name) for p in _PROFILES for k in _keys(p) if wanted.startswith(k + "-")]
    if longer:
        return max(longer)[1]
    same = [p for p in _PROFILES if generation(p.name) == generation(wanted)]
    gemini = wanted.startswith("gemini")
    family = [p for p in _PROFILES if p.name.startswith("gemini") == gemini]
    # A looser match within the generation; across generations only a close one.
    for pool, cutoff in ((same, 0.5), (family, 0.75)):
        by_key = {k: p.name for p in pool for k in _keys(p)}
        close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=cutoff)
        if close:
            return by_key[close[0]]
    return None


def _lookup(name: str) -> ModelProfile | None:
    """By full name or by the id after ``@``, case-insensitively (Gemini-2.5-Flash works)."""
    lowered = name.lower()
    for profile in _PROFILES:
        if lowered in _keys(profile):
            return profile
    return None


def _unknown(name: str) -> str:
    close = suggest(name)
    hint = f"did you mean {close}? " if close else ""
    return (
        f"unknown model {name!r}; {hint}`tunestats models` lists the known models "
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
