"""Tokenizers: which one a run counts with, and the engines that count.

Takes the ``--tokenizer`` option (``gemini``, ``cl100k_base``, ``o200k_base``, ``hf:FILE``, or
none), an optional ``--tokenizer-model FILE`` (a SentencePiece model) and the key of the model's
own tokenizer (``ModelProfile.tokenizer``). Hands on a :class:`TokenizerChoice`: a
:class:`Tokenizer` that counts a batch of texts (a numpy array of token counts), whether its
counts are exact for the model, and a note that says why when they are not.

- ``protocol``: Tokenizer, TokenizerChoice, TokenizerError.
- ``choose``: :func:`choose_tokenizer`, a table from the options' form to a small function.
- ``gemini``: the SentencePiece models shipped for Gemini (exact, offline, the default for every
  Gemini model, and for Gemma 2 and 3, which share them), any other SentencePiece file, and
  kitoken, the faster engine for large runs.
- ``bpe``: open models' tiktoken files read from the packages that ship them (the
  ``open-models`` extra), sha256 checked, counted with tiktoken; ``llama`` (Llama 3.x) and
  ``qwen`` (Qwen 3) describe one each, ``open_models`` lists them by key.
- ``openai``: cl100k_base and o200k_base through bpe-openai (estimates for every model).
- ``hf``: a Hugging Face ``tokenizer.json`` (estimates: tunestats cannot check it is the model's).
- ``memo``: MemoCounter, which counts each distinct long text once.
- ``names``: :func:`short_name`, the one short name of a tokenizer for tables and labels.
- ``reading``: a tokenizer file read through the io stage.
"""

from .bpe import INSTALL_HINT, BPEFile, PackagedBPE, packaged_file
from .choose import choose_tokenizer, default_tokenizer
from .gemini import (
    GEMINI_TOKENIZER_MODELS,
    GeminiTokenizer,
    SentencePieceTokenizer,
    shipped_model_bytes,
)
from .hf import HFTokenizer
from .memo import MemoCounter
from .names import short_name
from .open_models import PACKAGED
from .openai import OPENAI_ENCODINGS, OpenAIEncoding, tiktoken_encoding
from .protocol import Tokenizer, TokenizerChoice, TokenizerError

__all__ = [
    "GEMINI_TOKENIZER_MODELS",
    "INSTALL_HINT",
    "OPENAI_ENCODINGS",
    "PACKAGED",
    "BPEFile",
    "GeminiTokenizer",
    "HFTokenizer",
    "MemoCounter",
    "OpenAIEncoding",
    "PackagedBPE",
    "SentencePieceTokenizer",
    "Tokenizer",
    "TokenizerChoice",
    "TokenizerError",
    "choose_tokenizer",
    "default_tokenizer",
    "packaged_file",
    "short_name",
    "shipped_model_bytes",
    "tiktoken_encoding",
]
