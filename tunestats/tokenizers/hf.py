"""Hugging Face ``tokenizer.json`` files: ``--tokenizer hf:FILE``, for open models.

Counted by the ``tokenizers`` package (the ``hf`` extra). Its counts are estimates for every
model: tunestats knows no published hash of any open model's ``tokenizer.json``, so it cannot
tell that the file is the model's own (CHOICES.md). Hands on an :class:`HFTokenizer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .protocol import TokenizerError
from .reading import read_tokenizer_file


class HFTokenizer:
    """Counts with a Hugging Face ``tokenizer.json`` (open models)."""

    threaded = True  # encode_batch runs on the tokenizers library's own threads

    def __init__(self, path: str) -> None:
        try:
            from tokenizers import Tokenizer as HF
        except ImportError as exc:
            raise TokenizerError("hf: tokenizers need: pip install 'tunestats[hf]'") from exc
        self.name = f"hf:{path}"
        self._path = path
        data = read_tokenizer_file(path)  # its own error says the file cannot be read
        try:
            self._tok = HF.from_str(data.decode("utf-8"))
        except Exception as exc:  # tokenizers raises plain Exception on a bad file
            raise TokenizerError(f"{path}: not a tokenizer.json: {exc}") from exc

    def count(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))

    def __reduce__(self) -> tuple[Any, ...]:
        return (HFTokenizer, (self._path,))
