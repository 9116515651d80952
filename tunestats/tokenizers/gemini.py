"""Gemini's SentencePiece models: ``--tokenizer gemini``, the default for every Gemini model.

Gemma 2 and Gemma 3 share them (the files are Gemma's: README "Tokenizers"), so they are the
default for those open models too.

Google's models ship in ``tunestats/data`` (sha256 checked on load, loaded once per process on
first use): Gemini 2.x, Gemini 3.5 Flash / 3.1 Flash-Lite, Gemini 1.x. So a Gemini model's
counts are exact with no flag and no network. ``--tokenizer-model FILE`` takes any other
SentencePiece file (:class:`SentencePieceTokenizer`).

A shipped model counts with SentencePiece, then with kitoken once a process has counted enough
text (:class:`KitokenCounter`: the same counts, 2-3x faster, on threads of its own).

Hands on a :class:`GeminiTokenizer` (a shipped model, pickled as its key) or a
:class:`SentencePieceTokenizer` (any model file).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .protocol import TokenizerError

# --- the shipped models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GeminiModelFile:
    """A Gemini SentencePiece model shipped in ``tunestats/data`` (see its NOTICE.md)."""

    key: str
    filename: str
    sha256: str
    models: str
    # Where Google's SDKs download it from (they cache it under the sha1 of this URL).
    url: str
    # The pieces kitoken counts otherwise than SentencePiece, so that a text holding one is
    # counted by SentencePiece (KitokenCounter); a test derives the list from the vocabulary
    # (tests/support/tokenizer_tools.sentencepiece_only_pieces).
    sentencepiece_only: tuple[str, ...] = ()


GEMINI_TOKENIZER_MODELS = {
    "gemma3": GeminiModelFile(
        "gemma3",
        "gemma3_cleaned_262144_v2.spiece.model",
        "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c",
        "Gemini 2.x and Gemma 3",
        "https://raw.githubusercontent.com/google/gemma_pytorch/"
        "014acb7ac4563a5f77c76d7ff98f31b568c16508/tokenizer/gemma3_cleaned_262144_v2.spiece.model",
        (">\u2581</", "\u2581YYYY", "\u2581yyyy", "\u2581diffformul", "\u2581::::::::"),
    ),
    "gemma4": GeminiModelFile(
        "gemma4",
        "tokenizer_gemma4.model",
        "9f318ac4dc02f8580e3f65ff0b37286e7c3d1e5d664737bb2c8ca812b5453162",
        "Gemini 3.5 Flash and 3.1 Flash-Lite",
        "gs://gemma-data/tokenizers/tokenizer_gemma4.model",
        (">\u2581</", "\u2581YYYY", "\u2581yyyy", "\u2581diffformul", "\u2581::::::::"),
    ),
    "gemma2": GeminiModelFile(
        "gemma2",
        "tokenizer_gemma2.model",
        "61a7b147390c64585d6c3543dd6fc636906c9af3865a5548f27f31aee1d4c8e2",
        "Gemini 1.x and Gemma 2",
        "https://raw.githubusercontent.com/google/gemma_pytorch/"
        "33b652c465537c6158f9a472ea5700e5e770ad3f/tokenizer/tokenizer.model",
        ("\u2581\u0441\u0441\u0441\u0440",),
    ),
}


def shipped_model_bytes(key: str) -> bytes:
    """The bytes of a shipped Gemini model, checked against its sha256."""
    from importlib import resources

    entry = GEMINI_TOKENIZER_MODELS[key]
    resource = resources.files("tunestats").joinpath("data", entry.filename)
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise TokenizerError(f"{entry.filename} is missing from the installation: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise TokenizerError(
            f"{resource}: sha256 {digest}, expected {entry.sha256}: "
            "the installation is damaged; reinstall tunestats"
        )
    return data


# --- the engines: SentencePiece, and kitoken for large runs ---------------------------------------


class SentencePieceTokenizer:
    """Counts with a SentencePiece model (one of Gemini's, or any other given by the user).

    ``threads``: how many threads SentencePiece uses for one batch (None: one per core; on
    2 cores, 2 threads counted 8.4 MB/s against 5.0 for one, README "Performance").
    """

    threaded = True

    def __init__(self, model: bytes, name: str, threads: int | None = None) -> None:
        import sentencepiece

        self.name = name
        self.threads = threads
        self._threads = threads or os.cpu_count() or 1
        self._model = model
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_proto=model)
        except RuntimeError as exc:  # sentencepiece's only error for a file it cannot parse
            raise TokenizerError(f"{name}: not a SentencePiece model: {exc}") from exc

    def count(self, texts: Sequence[str]) -> np.ndarray:
        pieces = self._sp.encode(list(texts), num_threads=self._threads)
        return np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))

    def __reduce__(self) -> tuple[Any, ...]:
        return (SentencePieceTokenizer, (self._model, self.name, self.threads))


# A process counts with SentencePiece until it has counted this many code points, then loads
# kitoken (0.6 s) and counts with it: a small run starts at once, a large one runs faster.
KITOKEN_AFTER_CHARS = 4_000_000


class GeminiTokenizer:
    """One of the Gemini models shipped with tunestats, loaded on first use, once per process.

    It pickles as its key, so worker processes get a few bytes, not the 4.7 MB model, and a
    run that never counts (an empty file, a usage error) never loads it. ``engine`` is
    ``"auto"`` (SentencePiece, then kitoken once enough text was counted, or at once after
    :meth:`warm`), ``"sentencepiece"`` or ``"kitoken"``; all three give the same counts (the
    tests prove it). ``threads``: how many threads count one batch (None: one per core).
    """

    threaded = True

    def __init__(self, key: str, threads: int | None = None, engine: str = "auto") -> None:
        self.key = key
        self.threads = threads
        self.engine = engine
        self.name = f"gemini:{GEMINI_TOKENIZER_MODELS[key].filename}"

    def count(self, texts: Sequence[str]) -> np.ndarray:
        return _shipped_counter(self.key, self.threads, self.engine).count(texts)

    def warm(self) -> None:
        """Load now what a large run counts with (kitoken), e.g. before a pool forks."""
        _shipped_counter(self.key, self.threads, self.engine).load_fast()

    def __reduce__(self) -> tuple[Any, ...]:
        return (GeminiTokenizer, (self.key, self.threads, self.engine))


class _ShippedCounter:
    """A shipped model's engines in this process, each loaded when first needed."""

    def __init__(self, key: str, threads: int | None, engine: str) -> None:
        self.key = key
        self.threads = threads or os.cpu_count() or 1
        self.engine = engine
        self._sentencepiece: SentencePieceTokenizer | None = None
        self.fast: KitokenCounter | None = None
        self.chars = 0
        if engine == "kitoken":
            self.load_fast()

    @property
    def sentencepiece(self) -> SentencePieceTokenizer:
        if self._sentencepiece is None:
            entry = GEMINI_TOKENIZER_MODELS[self.key]
            model = shipped_model_bytes(self.key)
            self._sentencepiece = SentencePieceTokenizer(
                model, f"gemini:{entry.filename}", self.threads
            )
        return self._sentencepiece

    def load_fast(self) -> None:
        if self.fast is None and self.engine != "sentencepiece":
            self.fast = KitokenCounter.load(self.key, self.threads, lambda: self.sentencepiece)
            if self.fast is None:
                self.engine = "sentencepiece"  # kitoken is not installed here
            else:
                self._sentencepiece = None  # memory: it is loaded again if a text needs it

    def count(self, texts: Sequence[str]) -> np.ndarray:
        if self.fast is None and self.engine == "auto":
            self.chars += sum(map(len, texts))
            if self.chars >= KITOKEN_AFTER_CHARS:
                self.load_fast()
        if self.fast is not None:
            return self.fast.count(texts)
        return self.sentencepiece.count(texts)


@functools.cache
def _shipped_counter(key: str, threads: int | None, engine: str) -> _ShippedCounter:
    return _ShippedCounter(key, threads, engine)


class KitokenCounter:
    """kitoken's BPE over a shipped Gemini model, with SentencePiece where the two can differ.

    kitoken splits the text before every run of spaces, takes a part that is a vocabulary piece
    whole, and merges the others as SentencePiece does. Two kinds of piece come out otherwise:
    a piece that crosses such a split, a space after another character (``>▁</`` in Gemini
    2.x and 3.x), which kitoken cannot form; and a piece that SentencePiece's merges cannot
    reach from its own text (``▁yyyy`` is counted ``▁y yy y``; four in 2.x and 3.x, one in
    1.x), which kitoken takes whole. Every text that holds one of these
    (``GeminiModelFile.sentencepiece_only``, derived from the vocabulary by a test) is counted
    by SentencePiece. The tests compare both on the corpus and on generated text.

    kitoken releases the GIL, so a batch is counted on ``threads`` threads of this process:
    as fast as that many processes, without a second copy of the model (120 MB).
    """

    def __init__(self, kitoken: Any, pieces: tuple[str, ...], threads: int, sentencepiece: Any):
        self._encode_all = kitoken.encode_all
        self._sentencepiece = sentencepiece  # () -> SentencePieceTokenizer, loaded when needed
        # Look for a space-free fragment of the piece first: cheaper than the replace.
        self.pieces = [(max(p.split("\u2581"), key=len), p) for p in pieces]
        self.threads = threads
        self._pool: Any = None

    @classmethod
    def load(cls, key: str, threads: int, sentencepiece: Any) -> KitokenCounter | None:
        # kitoken allocates with mimalloc, which by default keeps freed memory for later: 50 MB
        # of the conversion from SentencePiece would stay. These give it back at once (read
        # when kitoken is first imported; a value already set by the user wins).
        os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
        os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")
        try:
            import kitoken
        except ImportError:
            return None
        entry = GEMINI_TOKENIZER_MODELS[key]
        engine = kitoken.Kitoken.from_sentencepiece(shipped_model_bytes(key))
        return cls(engine, entry.sentencepiece_only, threads, sentencepiece)

    def needs_sentencepiece(self, text: str) -> bool:
        for fragment, piece in self.pieces:
            if fragment in text and piece in text.replace(" ", "\u2581"):
                return True
        return False

    def count(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        slow = [i for i, t in enumerate(texts) if self.needs_sentencepiece(t)]
        if not slow:
            return self._count_fast(texts)
        counts = np.zeros(len(texts), dtype=np.int64)
        counts[slow] = self._sentencepiece().count([texts[i] for i in slow])
        fast = sorted(set(range(len(texts))) - set(slow))
        counts[fast] = self._count_fast([texts[i] for i in fast])
        return counts

    def _count_fast(self, texts: list[str]) -> np.ndarray:
        parts = _split_evenly(texts, self.threads)
        if len(parts) == 1:
            results = [self._encode_all(texts)]
        else:
            results = list(self._threads().map(self._encode_all, parts))
        lengths = [len(ids) for part in results for ids in part]
        return np.asarray(lengths, dtype=np.int64)

    def _threads(self) -> Any:
        # A forked child inherits the pool object but not its threads: it makes its own.
        if self._pool is None or self._pool[0] != os.getpid():
            from concurrent.futures import ThreadPoolExecutor

            self._pool = (os.getpid(), ThreadPoolExecutor(self.threads, "kitoken"))
        return self._pool[1]


def _split_evenly(texts: list[str], parts: int) -> list[list[str]]:
    """Consecutive runs of ``texts`` with about equal numbers of code points, at most
    ``parts`` of them (fewer for small batches: a thread costs more than a few texts)."""
    total = sum(map(len, texts))
    parts = max(1, min(parts, total // 20_000))
    if parts == 1:
        return [texts]
    out, current, size, goal = [], [], 0, total / parts
    for text in texts:
        current.append(text)
        size += len(text)
        if size >= goal * (len(out) + 1) and len(out) < parts - 1:
            out.append(current)
            current = []
    out.append(current)
    return [part for part in out if part]
