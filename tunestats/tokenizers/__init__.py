"""Tokenizers: which one a run counts with, and the engines that count.

Takes the ``--tokenizer`` option (``gemini``, ``cl100k_base``, ``o200k_base``, ``hf:FILE``, or
none), an optional ``--tokenizer-model FILE`` (a SentencePiece model) and the model's Gemini
tokenizer key (``ModelProfile.gemini_tokenizer``). Hands on a :class:`TokenizerChoice`: a
:class:`Tokenizer` that counts a batch of texts (a numpy array of token counts), whether its
counts are exact for the model, and a note that says why when they are not.

- ``protocol``: Tokenizer, TokenizerChoice, TokenizerError.
- ``choose``: :func:`choose_tokenizer`, a table from the options' form to a small function.
- ``gemini``: the SentencePiece models shipped for Gemini (exact, offline, the default for every
  Gemini model), any other SentencePiece file, and kitoken, the faster engine for large runs.
- ``openai``: cl100k_base and o200k_base through bpe-openai (estimates for every model).
- ``hf``: a Hugging Face ``tokenizer.json`` (estimates: tunestats cannot check it is the model's).
- ``memo``: MemoCounter, which counts each distinct long text once.
- ``names``: :func:`short_name`, the one short name of a tokenizer for tables and labels.
- ``reading``: a tokenizer file read through the io stage.
"""

from .choose import choose_tokenizer
from .gemini import (
    GEMINI_TOKENIZER_MODELS,
    GeminiTokenizer,
    SentencePieceTokenizer,
    shipped_model_bytes,
)
from .hf import HFTokenizer
from .memo import MemoCounter
from .names import short_name
from .openai import OPENAI_ENCODINGS, OpenAIEncoding, tiktoken_encoding
from .protocol import Tokenizer, TokenizerChoice, TokenizerError

__all__ = [
    "GEMINI_TOKENIZER_MODELS",
    "OPENAI_ENCODINGS",
    "GeminiTokenizer",
    "HFTokenizer",
    "MemoCounter",
    "OpenAIEncoding",
    "SentencePieceTokenizer",
    "Tokenizer",
    "TokenizerChoice",
    "TokenizerError",
    "choose_tokenizer",
    "short_name",
    "shipped_model_bytes",
    "tiktoken_encoding",
]
