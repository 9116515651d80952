"""Choosing the tokenizer: ``--tokenizer`` / ``--tokenizer-model`` for a model, as a table.

Takes the two options, the key of the model's own tokenizer (``ModelProfile.tokenizer``: a
Gemini SentencePiece model shipped in ``tunestats/data``, which Gemma 2 and 3 share, or an open
model's file another package ships, ``open_models.PACKAGED``) and the model's name.
:func:`option_form` says which form the options take, :data:`FORMS` maps each form to the small
function that resolves it, and every estimate carries a note that says why, and what would make
the counts exact. An open model's exact counts carry a note too: they are its text tokens, and
its chat template's tokens are not counted (CHOICES.md, "Open models' tokenizers"). Hands on a
:class:`~tunestats.tokenizers.protocol.TokenizerChoice`.

Google's download caches are never consulted: a file left in a shared temporary directory must
not change which tokenizer a run uses; nor is anything downloaded for an open model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .bpe import INSTALL_HINT, PackagedBPE
from .gemini import GEMINI_TOKENIZER_MODELS, GeminiTokenizer, SentencePieceTokenizer
from .hf import HFTokenizer
from .open_models import PACKAGED, missing
from .openai import OPENAI_ENCODINGS, OpenAIEncoding
from .protocol import TokenizerChoice, TokenizerError
from .reading import read_tokenizer_file

# The note of an open model's exact counts (the text report reads "exact text tokens for").
TEMPLATE_NOTE = "chat-template tokens not counted"


@dataclass(frozen=True)
class Request:
    """The tokenizer options of a run, and the model they count for."""

    name: str | None  # --tokenizer
    file: str | None  # --tokenizer-model
    own: str | None  # the key of the model's own tokenizer, if tunestats knows one
    model: str


def is_open_model(model: str) -> bool:
    """A Vertex open model: its name is ``publisher/model@version`` (``meta/llama3_1@...``);
    no Gemini name has an ``@``."""
    return "@" in model


def default_tokenizer(own: str | None) -> tuple[str, bool]:
    """The short name of what counts for a model when neither option is given, and whether it
    is exact, without loading it (``tunestats models``)."""
    if _own_available(own):
        return own or "", True
    return "cl100k_base", False


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
    """Neither option: the model's own tokenizer (a shipped Gemini model; an open model's
    packaged file when its package is installed), else cl100k_base estimates."""
    if r.own in GEMINI_TOKENIZER_MODELS:
        return _shipped(r.own, r.own, r.model)
    if r.own in PACKAGED:
        why = missing(r.own)
        if why is None:
            return TokenizerChoice(PackagedBPE(PACKAGED[r.own]), True, TEMPLATE_NOTE)
        note = (
            f"token counts are cl100k_base estimates for {r.model}: {why}; "
            f"{INSTALL_HINT} for exact text tokens"
        )
        return TokenizerChoice(OpenAIEncoding("cl100k_base"), False, note)
    return _estimate("cl100k_base", r.model, None)


def _gemini(r: Request) -> TokenizerChoice:
    """``--tokenizer gemini``: the model's own shipped tokenizer; Gemini 2.x's for another."""
    key = r.own if r.own in GEMINI_TOKENIZER_MODELS else "gemma3"
    return _shipped(key, r.own, r.model)


def _gemini_file(r: Request) -> TokenizerChoice:
    """``--tokenizer-model FILE`` (with ``--tokenizer gemini`` or alone): a SentencePiece file,
    exact when it is the model's own Gemini file."""
    assert r.file is not None  # option_form chose this form for a file
    data = read_tokenizer_file(r.file)
    digest = hashlib.sha256(data).hexdigest()
    known = next((m for m in GEMINI_TOKENIZER_MODELS.values() if m.sha256 == digest), None)
    if known is not None:
        return _shipped(known.key, r.own, r.model)
    note = (
        f"{r.file} is not one of Google's Gemini tokenizer models (sha256 {digest[:12]}...): "
        f"token counts are estimates for {r.model}"
    )
    return TokenizerChoice(SentencePieceTokenizer(data, f"sentencepiece:{r.file}"), False, note)


def _openai(r: Request) -> TokenizerChoice:
    """``--tokenizer cl100k_base`` / ``o200k_base``: estimates for every model."""
    assert r.name is not None  # option_form chose this form for a name
    return _estimate(r.name, r.model, r.own)


def _hf(r: Request) -> TokenizerChoice:
    """``--tokenizer hf:FILE``: estimates, since tunestats cannot know the file is the model's
    own tokenizer (it ships no hashes of open models' files), and a Gemini model has its own."""
    assert r.name is not None  # option_form chose this form for a name
    path = r.name[3:]
    hint = _exact_hint(r.own)
    if hint is not None and not is_open_model(r.model):
        note = (
            f"{path} is a Hugging Face tokenizer, not {r.model}'s own: token counts are "
            f"estimates ({hint})"
        )
    else:
        note = (
            f"token counts are estimates: tunestats cannot check that {path} is {r.model}'s own "
            "tokenizer (it knows no hash of open models' tokenizer files); if it is, the counts "
            "are that tokenizer's"
        )
        if hint is not None:
            note += f" ({hint})"
    return TokenizerChoice(HFTokenizer(path), False, note)


FORMS: dict[str, Callable[[Request], TokenizerChoice]] = {
    "default": _by_model,
    "gemini": _gemini,
    "--tokenizer-model FILE": _gemini_file,
    **dict.fromkeys(OPENAI_ENCODINGS, _openai),
    "hf:FILE": _hf,
}


def choose_tokenizer(
    name: str | None, tokenizer_model: str | None, own: str | None, model: str = "the model"
) -> TokenizerChoice:
    """Resolve ``--tokenizer`` / ``--tokenizer-model`` for a model and its own tokenizer's key."""
    request = Request(name, tokenizer_model, own, model)
    return FORMS[option_form(name, tokenizer_model)](request)


# --- the shared notes: a shipped Gemini model, an OpenAI encoding ------------------------------


def _shipped(key: str, wanted: str | None, model: str) -> TokenizerChoice:
    """A shipped Gemini model: exact only for the models whose tokenizer it is."""
    tokenizer = GeminiTokenizer(key)
    if key == wanted:
        return TokenizerChoice(tokenizer, True, TEMPLATE_NOTE if is_open_model(model) else "")
    entry = GEMINI_TOKENIZER_MODELS[key]
    note = (
        f"{entry.filename} is the tokenizer of {entry.models}, not of {model}: "
        "token counts are estimates (leave out --tokenizer-model for exact counts)"
    )
    return TokenizerChoice(tokenizer, False, note)


def _own_available(own: str | None) -> bool:
    """Whether the model's own tokenizer can count here: shipped, or its package installed."""
    return own in GEMINI_TOKENIZER_MODELS or (own in PACKAGED and missing(own) is None)


def _exact_hint(own: str | None) -> str | None:
    """What makes the counts exact when another tokenizer was asked for; None: nothing can."""
    if _own_available(own):
        return "leave out --tokenizer for exact counts"
    if own in PACKAGED:
        return f"{INSTALL_HINT} and leave out --tokenizer for exact text tokens"
    return None


def _estimate(name: str, model: str, own: str | None) -> TokenizerChoice:
    """An OpenAI encoding's counts, and why they are estimates for ``model``."""
    hint = _exact_hint(own)
    if hint is None:
        note = (
            f"token counts are {name} estimates: tunestats ships no tokenizer for {model}; "
            "give --tokenizer hf:PATH (the model's tokenizer.json) to count its own tokens"
        )
    else:
        note = f"token counts are {name} estimates, not {model}'s own tokens ({hint})"
    return TokenizerChoice(OpenAIEncoding(name), False, note)
