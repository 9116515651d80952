"""The memo: a tokenizer that counts each distinct long text once.

Takes any :class:`~tunestats.tokenizers.protocol.Tokenizer`; hands on a tokenizer with the same
name and counts (the plan puts it in front of the chosen one unless ``--no-memo``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .protocol import Tokenizer


class MemoCounter:
    """Counts each distinct long text once, by content, in bounded memory.

    Real datasets repeat a lot: system instructions, few-shot prefixes, whole prompts. A text of
    at least ``min_chars`` code points is looked up by its content (a dict keyed by the string:
    hash, then exact comparison) before it is counted. When the remembered texts exceed
    ``max_chars`` code points the memo starts again empty, so memory stays bounded whatever
    the input. Short texts are counted directly: looking them up would cost about as much.
    """

    def __init__(self, tokenizer: Tokenizer, min_chars: int = 64, max_chars: int = 1 << 20):
        self.name = tokenizer.name
        self.threaded = getattr(tokenizer, "threaded", False)
        self.tokenizer = tokenizer
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._memo: dict[str, int] = {}
        self._chars = 0

    def count(self, texts: Sequence[str]) -> np.ndarray:
        get, min_chars = self._memo.get, self.min_chars
        found = [get(t) if len(t) >= min_chars else None for t in texts]
        missing = [i for i, n in enumerate(found) if n is None]
        if missing:
            todo = list(dict.fromkeys(texts[i] for i in missing))  # repeats in a batch: once
            counted = dict(zip(todo, self.tokenizer.count(todo).tolist()))
            for i in missing:
                found[i] = counted[texts[i]]
            self._remember({t: n for t, n in counted.items() if len(t) >= min_chars})
        return np.asarray(found, dtype=np.int64)

    def _remember(self, counted: dict[str, int]) -> None:
        chars = sum(map(len, counted))
        if chars > self.max_chars:
            return
        if self._chars + chars > self.max_chars:
            self._memo.clear()
            self._chars = 0
        self._memo.update(counted)
        self._chars += chars

    def __reduce__(self) -> tuple[Any, ...]:
        return (MemoCounter, (self.tokenizer, self.min_chars, self.max_chars))
