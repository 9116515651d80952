"""Choosing the tokenizer: ``--tokenizer`` / ``--tokenizer-model`` for a model, as a table.

Takes the two options, the model's Gemini tokenizer key (``ModelProfile.gemini_tokenizer``:
the shipped model that counts exactly for it, if any) and the model's name. :func:`option_form`
says which form the options take, :data:`FORMS` maps each form to the small function that
resolves it, and every estimate carries a note that says why, and what would make the counts
exact. Hands on a :class:`~tunestats.tokenizers.protocol.TokenizerChoice`.

Google's download caches are never consulted: a file left in a shared temporary directory must
not change which tokenizer a run uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .gemini import GEMINI_TOKENIZER_MODELS, GeminiTokenizer, SentencePieceTokenizer
from .hf import HFTokenizer
from .openai import OPENAI_ENCODINGS, OpenAIEncoding
from .protocol import TokenizerChoice, TokenizerError
from .reading import read_tokenizer_file


@dataclass(frozen=True)
class Request:
    """The tokenizer options of a run, and the model they count for."""

    name: str | None  # --tokenizer
    file: str | None  # --tokenizer-model
    gemini_key: str | None  # the key of the model's own shipped tokenizer, if it has one
    model: str


def option_form(name: str | None, file: str | None) -> str:
    """The key of :data:`FORMS` for the options; TokenizerError for an unknown tokenizer."""
    if name is None or name == "gemini":
        if file is not None:
            return "--tokenizer-model FILE"
        return "gemini" if name else "default"
    if name.startswith("hf:"):
        return "hf:FILE"
    if name in OPENAI_ENCODINGS:
        return name
    raise TokenizerError(
        f"unknown tokenizer {name!r}; choose gemini, cl100k_base, o200k_base or hf:PATH"
    )


def _by_model(r: Request) -> TokenizerChoice:
    """Neither option: a Gemini model's own shipped tokenizer (exact, offline), else
    cl100k_base estimates."""
    if r.gemini_key is not None:
        return _shipped(r.gemini_key, r.gemini_key, r.model)
    return _estimate("cl100k_base", r.model, None)


def _gemini(r: Request) -> TokenizerChoice:
    """``--tokenizer gemini``: the model's own shipped tokenizer; Gemini 2.x's for an open model."""
    return _shipped(r.gemini_key or "gemma3", r.gemini_key, r.model)


def _gemini_file(r: Request) -> TokenizerChoice:
    """``--tokenizer-model FILE`` (with ``--tokenizer gemini`` or alone): a SentencePiece file,
    exact when it is the model's own Gemini file."""
    assert r.file is not None  # option_form chose this form for a file
    data = read_tokenizer_file(r.file)
    digest = hashlib.sha256(data).hexdigest()
    known = next((m for m in GEMINI_TOKENIZER_MODELS.values() if m.sha256 == digest), None)
    if known is not None:
        return _shipped(known.key, r.gemini_key, r.model)
    note = (
        f"{r.file} is not one of Google's Gemini tokenizer models (sha256 {digest[:12]}...): "
        f"token counts are estimates for {r.model}"
    )
    return TokenizerChoice(SentencePieceTokenizer(data, f"sentencepiece:{r.file}"), False, note)


def _openai(r: Request) -> TokenizerChoice:
    """``--tokenizer cl100k_base`` / ``o200k_base``: estimates for every model."""
    assert r.name is not None  # option_form chose this form for a name
    return _estimate(r.name, r.model, r.gemini_key)


def _hf(r: Request) -> TokenizerChoice:
    """``--tokenizer hf:FILE``: estimates, since tunestats cannot know the file is the model's
    own tokenizer (it ships no hashes of open models' files), and a Gemini model has its own."""
    assert r.name is not None  # option_form chose this form for a name
    path = r.name[3:]
    if r.gemini_key is not None:
        note = (
            f"{path} is a Hugging Face tokenizer, not {r.model}'s own: token counts are "
            "estimates (leave out --tokenizer for exact counts)"
        )
    else:
        note = (
            f"token counts are estimates: tunestats cannot check that {path} is {r.model}'s own "
            "tokenizer (it knows no hash of open models' tokenizer files); if it is, the counts "
            "are that tokenizer's"
        )
    return TokenizerChoice(HFTokenizer(path), False, note)


FORMS: dict[str, Callable[[Request], TokenizerChoice]] = {
    "default": _by_model,
    "gemini": _gemini,
    "--tokenizer-model FILE": _gemini_file,
    **dict.fromkeys(OPENAI_ENCODINGS, _openai),
    "hf:FILE": _hf,
}


def choose_tokenizer(
    name: str | None, tokenizer_model: str | None, gemini_key: str | None, model: str = "the model"
) -> TokenizerChoice:
    """Resolve ``--tokenizer`` / ``--tokenizer-model`` for a model and its Gemini tokenizer key."""
    request = Request(name, tokenizer_model, gemini_key, model)
    return FORMS[option_form(name, tokenizer_model)](request)


# --- the shared notes: a shipped Gemini model, an OpenAI encoding ------------------------------


def _shipped(key: str, wanted: str | None, model: str) -> TokenizerChoice:
    """A shipped Gemini model: exact only for the models whose tokenizer it is."""
    tokenizer = GeminiTokenizer(key)
    if key == wanted:
        return TokenizerChoice(tokenizer, True)
    entry = GEMINI_TOKENIZER_MODELS[key]
    note = (
        f"{entry.filename} is the tokenizer of {entry.models}, not of {model}: "
        "token counts are estimates (leave out --tokenizer-model for exact counts)"
    )
    return TokenizerChoice(tokenizer, False, note)


def _estimate(name: str, model: str, gemini_key: str | None) -> TokenizerChoice:
    """An OpenAI encoding's counts, and why they are estimates for ``model``."""
    if gemini_key is None:
        note = (
            f"token counts are {name} estimates: tunestats ships no tokenizer for {model}; "
            "give --tokenizer hf:PATH (the model's tokenizer.json) to count its own tokens"
        )
    else:
        note = (
            f"token counts are {name} estimates, not {model}'s own tokens "
            "(leave out --tokenizer for exact counts)"
        )
    return TokenizerChoice(OpenAIEncoding(name), False, note)
