"""Short names: one per tokenizer, for the places with no room for its full name.

A tokenizer's ``name`` says exactly what counts (``gemini:tokenizer_gemma4.model``,
``llama3:tokenizer.model``, ``hf:models/tokenizer.json``); its short name is what tables and
labels show: a shipped Gemini model's key (``gemma3``, ``gemma4``, ``gemma2``: the keys
``tunestats models`` shows), an open model's packaged tokenizer's key (``llama3``, ``qwen3``),
any other tokenizer's name as it is (``cl100k_base``, ``hf:PATH``, ``sentencepiece:PATH``).
"""

from __future__ import annotations

from .gemini import GEMINI_TOKENIZER_MODELS
from .open_models import PACKAGED


def short_name(name: str) -> str:
    """The short name of the tokenizer named ``name`` (``Tokenizer.name``, ``Stats.tokenizer``)."""
    kind, sep, filename = name.partition(":")
    if sep and kind == "gemini":
        for key, entry in GEMINI_TOKENIZER_MODELS.items():
            if entry.filename == filename:
                return key
    if sep and kind in PACKAGED:
        return kind
    return name
