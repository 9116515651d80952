"""The tokenizer protocol: what every engine offers, and what choosing one hands on.

Every tokenizer counts the text alone: no special tokens, no per-message overhead (SPEC §2).
A :class:`Tokenizer` turns a batch of texts into a numpy array of token counts (int64, one per
text); a :class:`TokenizerChoice` is the tokenizer a run uses and whether its counts are exact
for the model; :class:`TokenizerError` says what is wrong with a tokenizer option or file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class TokenizerError(ValueError):
    """A tokenizer option or file that cannot be used; the message says why, in one line."""


class Tokenizer(Protocol):
    name: str
    # True when ``count`` spreads a batch over threads of its own, outside the GIL: one
    # process then uses every core, and a run needs no second process (nor a second model).
    threaded: bool

    def count(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class TokenizerChoice:
    """The tokenizer a run uses and whether its counts are exact for the chosen model."""

    tokenizer: Tokenizer
    exact: bool
    note: str = ""
