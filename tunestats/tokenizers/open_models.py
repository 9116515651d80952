"""The open models' tokenizers that tunestats can count with, by key.

Gemma 2 and Gemma 3 count with the SentencePiece models shipped for Gemini 1.x and 2.x (the
same files: ``gemma2`` and ``gemma3`` in ``gemini.GEMINI_TOKENIZER_MODELS``). Llama 3.x and
Qwen 3 count with a file another package ships (:data:`PACKAGED`), installed by the
``open-models`` extra. Hands on :data:`PACKAGED` and :func:`missing`.
"""

from __future__ import annotations

from .bpe import BPEFile, packaged_file
from .llama import LLAMA3
from .protocol import TokenizerError
from .qwen import QWEN3

PACKAGED: dict[str, BPEFile] = {entry.key: entry for entry in (LLAMA3, QWEN3)}


def missing(key: str) -> str | None:
    """None when the packaged tokenizer of ``key`` can count here, else why it cannot: its
    package is not installed, or ships another file."""
    entry = PACKAGED[key]
    try:
        found = packaged_file(entry)
    except TokenizerError as exc:
        return str(exc)
    return f"{entry.title}'s tokenizer is not installed" if found is None else None
