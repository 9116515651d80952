"""ExampleBatch: the columns that both parsing paths hand to counting.

The per-line path (``formats``) and the Arrow path (``formats.blocks``) each turn a block of lines
into one of these: a flat list of texts with, for each text, its example and its side (input
or output), and per-example message counts, characters and media. Everything after this point
(tokenizing, the too-long rule, accumulating) has one path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import Example, MediaPart


@dataclass
class ExampleBatch:
    lines: np.ndarray  # int64, the line of each example, increasing
    messages: np.ndarray  # int64 per example
    characters: np.ndarray  # int64 per example
    billable_characters: np.ndarray  # int64 per example
    images: np.ndarray  # int64 per example
    other_media: np.ndarray  # int64 per example
    texts: list[str]  # every text to tokenize
    owner: np.ndarray  # int64 per text: index of its example
    output: np.ndarray  # bool per text: written by the model
    media: list[MediaPart] = field(default_factory=list)  # every media part (SPEC §9)
    media_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.lines)


def _ints(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def from_examples(examples: list[Example]) -> ExampleBatch:
    texts: list[str] = []
    owner: list[int] = []
    output: list[bool] = []
    media: list[MediaPart] = []
    media_owner: list[int] = []
    for i, e in enumerate(examples):
        texts += e.inputs
        texts += e.outputs
        owner += [i] * (len(e.inputs) + len(e.outputs))
        output += [False] * len(e.inputs) + [True] * len(e.outputs)
        media += e.media
        media_owner += [i] * len(e.media)
    return ExampleBatch(
        lines=_ints([e.line for e in examples]),
        messages=_ints([e.messages for e in examples]),
        characters=_ints([e.characters for e in examples]),
        billable_characters=_ints([e.billable_characters for e in examples]),
        images=_ints([e.images for e in examples]),
        other_media=_ints([e.other_media for e in examples]),
        texts=texts,
        owner=_ints(owner),
        output=np.asarray(output, dtype=bool),
        media=media,
        media_owner=_ints(media_owner),
    )


def concat(batches: list[ExampleBatch]) -> ExampleBatch:
    """One batch of all examples, in line order (the inputs cover disjoint lines)."""
    batches = [b for b in batches if len(b)]
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return from_examples([])
    offsets = np.cumsum([0] + [len(b) for b in batches[:-1]])
    lines = np.concatenate([b.lines for b in batches])
    order = np.argsort(lines, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))  # new position of each example

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in batches])[order]

    texts: list[str] = []
    media: list[MediaPart] = []
    for b in batches:
        texts += b.texts
        media += b.media
    owner = np.concatenate([b.owner + off for b, off in zip(batches, offsets)])
    media_owner = np.concatenate([b.media_owner + off for b, off in zip(batches, offsets)])
    return ExampleBatch(
        lines=lines[order],
        messages=column("messages"),
        characters=column("characters"),
        billable_characters=column("billable_characters"),
        images=column("images"),
        other_media=column("other_media"),
        texts=texts,
        owner=rank[owner],
        output=np.concatenate([b.output for b in batches]),
        media=media,
        media_owner=rank[media_owner],
    )
