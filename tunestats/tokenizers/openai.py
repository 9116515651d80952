"""OpenAI's BPE encodings: ``--tokenizer cl100k_base`` / ``o200k_base``.

Counted by the Rust core of the ``bpe-openai`` package, which also ships the encoding files, so
nothing is downloaded. :func:`tiktoken_encoding` builds the same encoding in tiktoken from those
files (their sha256 checked against tiktoken's own): the reference the tests and benchmarks
compare with, proven to count alike on the whole corpus. No model here tokenizes with them, so
their counts are estimates for every model: the default only for a model whose own tokenizer
tunestats cannot have (Llama or Qwen without the ``open-models`` extra, an unknown model).
Hands on an :class:`OpenAIEncoding`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .bpe import tiktoken_ranks
from .protocol import TokenizerError

OPENAI_ENCODINGS = ("cl100k_base", "o200k_base")


class OpenAIEncoding:
    """cl100k_base / o200k_base through bpe-openai's Rust ``count`` (no token list is built)."""

    threaded = False  # one text per call, under the GIL: processes give the parallelism

    def __init__(self, name: str) -> None:
        if name not in OPENAI_ENCODINGS:
            raise TokenizerError(f"unknown encoding {name!r}; known: {', '.join(OPENAI_ENCODINGS)}")
        self.name = name
        self._count = _bpe_bindings().tokenizer_for_encoding(name).count

    def count(self, texts: Sequence[str]) -> np.ndarray:
        count = self._count
        return np.fromiter((count(t) for t in texts), dtype=np.int64, count=len(texts))

    def __reduce__(self) -> tuple[Any, ...]:
        return (OpenAIEncoding, (self.name,))


def _bpe_bindings() -> Any:
    """bpe-openai's Rust binding, loaded without the package's Python layer.

    ``import bpe_openai`` parses every encoding file in Python (about a second); the binding
    alone loads one encoding in 0.08 s. The Python layer has no ``count`` anyway.
    """
    import importlib.util
    import sys

    loaded = sys.modules.get("bpe_openai._bindings")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("bpe_openai")
    if package is None or not package.submodule_search_locations:
        raise TokenizerError("cl100k_base/o200k_base need the bpe-openai package")
    folder = package.submodule_search_locations[0]
    for name in sorted(os.listdir(folder)):
        if name.startswith("_bindings.") and name.endswith((".so", ".pyd")):
            spec = importlib.util.spec_from_file_location(
                "bpe_openai._bindings", os.path.join(folder, name)
            )
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
    from bpe_openai import _bindings  # an unusual layout: take the slow, ordinary way

    return _bindings


# tiktoken's own sha256 of the encoding files (tiktoken_ext/openai_public.py).
_TIKTOKEN_HASHES = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def tiktoken_encoding(name: str) -> Any:
    """tiktoken's Encoding for ``name``, built offline from the files bpe-openai ships."""
    import gzip
    from importlib import resources

    import tiktoken
    from tiktoken_ext import openai_public

    data = gzip.decompress(
        resources.files("bpe_openai").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    )
    digest = hashlib.sha256(data).hexdigest()
    if digest != _TIKTOKEN_HASHES[name]:
        raise TokenizerError(f"{name}: encoding file has sha256 {digest}, not tiktoken's")
    ranks = tiktoken_ranks(data)
    # openai_public's constructors would download the file; take only the split pattern.
    pat_str = _tiktoken_pattern(openai_public, name)
    return tiktoken.Encoding(name=name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens={})


def _tiktoken_pattern(openai_public: Any, name: str) -> str:
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: {}
    try:
        return getattr(openai_public, name)()["pat_str"]
    finally:
        openai_public.load_tiktoken_bpe = original
