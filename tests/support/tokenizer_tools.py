"""Tokenizer tools for the tests only: facts about the shipped models, derived from them.

- :func:`sentencepiece_only_pieces`: the pieces of a SentencePiece model that kitoken counts
  otherwise, which ``GeminiModelFile.sentencepiece_only`` lists (tunestats.tokenizers.gemini)
  and a test derives again from each shipped vocabulary.
- :func:`strings_in`: every string of a parsed JSON value, the texts the identity tests count.
"""

from __future__ import annotations

import re
from typing import Any


def sentencepiece_only_pieces(sp: Any) -> list[str]:
    """The pieces of a SentencePiece model that kitoken counts otherwise (see KitokenCounter):
    those with a space (U+2581) after another character, and those whose own text SentencePiece
    encodes as more than one piece. Spaces are U+2581 in them, as in the vocabulary."""
    found = []
    ids = [
        i
        for i in range(sp.get_piece_size())
        if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i) or sp.is_byte(i))
    ]
    pieces = sp.id_to_piece(ids)
    counts = [len(ids) for ids in sp.encode([p.replace("\u2581", " ") for p in pieces])]
    crossing = re.compile("[^\u2581]\u2581")
    for piece, count in zip(pieces, counts):
        if crossing.search(piece) or count != 1:
            found.append(piece)
    return found


def strings_in(value: Any) -> list[str]:
    """Every string anywhere in a parsed JSON value: object keys and string values."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            for key, sub in item.items():
                found.append(key)
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return found
