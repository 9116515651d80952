"""Tokenizers: a batch of texts in, a numpy array of token counts out.

Every tokenizer counts the text alone: no special tokens, no per-message overhead (SPEC §2).

- ``cl100k_base``, ``o200k_base``: OpenAI's encodings, counted by the Rust core of the
  ``bpe-openai`` package, which also ships the encoding files, so nothing is downloaded.
  :func:`tiktoken_encoding` builds the same encoding in tiktoken from those files (their sha256
  checked against tiktoken's own); the tests prove both count alike on the whole corpus.
- ``gemini``: Google's SentencePiece models, shipped in ``tunestats/data`` (sha256 checked on
  load, loaded once per process on first use): Gemini 2.x, Gemini 3.5 Flash / 3.1 Flash-Lite,
  Gemini 1.x. The default for every Gemini model, so its counts are exact with no flag and no
  network. ``--tokenizer-model PATH`` takes any other SentencePiece file.
- ``hf:PATH``: a Hugging Face ``tokenizer.json`` through the ``tokenizers`` package. Its
  counts are estimates for every model: tunestats knows no published hash of any open model's
  ``tokenizer.json``, so it cannot tell that the file is the model's own (CHOICES.md).

Hands to the pipeline: a :class:`Tokenizer` and whether its counts are exact for the model.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

OPENAI_ENCODINGS = ("cl100k_base", "o200k_base")


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
    # counted by SentencePiece (KitokenCounter); a test derives the list from the vocabulary.
    sentencepiece_only: tuple[str, ...] = ()


GEMINI_TOKENIZER_MODELS = {
    "gemma3": GeminiModelFile(
        "gemma3",
        "gemma3_cleaned_262144_v2.spiece.model",
        "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c",
        "Gemini 2.x",
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
        "Gemini 1.x",
        "https://raw.githubusercontent.com/google/gemma_pytorch/"
        "33b652c465537c6158f9a472ea5700e5e770ad3f/tokenizer/tokenizer.model",
        ("\u2581\u0441\u0441\u0441\u0440",),
    ),
}


class TokenizerError(ValueError):
    pass


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
    import base64
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
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
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
        data = _read_bytes(path)  # its own error says the file cannot be read
        try:
            self._tok = HF.from_str(data.decode("utf-8"))
        except Exception as exc:  # tokenizers raises plain Exception on a bad file
            raise TokenizerError(f"{path}: not a tokenizer.json: {exc}") from exc

    def count(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))

    def __reduce__(self) -> tuple[Any, ...]:
        return (HFTokenizer, (self._path,))


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


def _read_bytes(uri: str) -> bytes:
    # Through the source's opener: gs:// with the same credentials and endpoint as datasets.
    from ..io.files import SourceError
    from ..io.sources import open_binary

    try:
        with open_binary(uri) as f:
            return f.read()
    except (SourceError, OSError, ValueError) as exc:
        why = str(exc)
        why = why[len(uri) + 2 :] if why.startswith(f"{uri}: ") else why  # the URI once
        raise TokenizerError(f"{uri}: cannot read tokenizer file: {why}") from exc


# The notes of estimates: each says why, and what would make the counts exact.


def _known_gemini(
    model_bytes: bytes, wanted: str | None, source: str, model: str
) -> TokenizerChoice:
    """A SentencePiece file given by the user: exact when it is the model's own Gemini file."""
    digest = hashlib.sha256(model_bytes).hexdigest()
    known = next((m for m in GEMINI_TOKENIZER_MODELS.values() if m.sha256 == digest), None)
    if known is None:
        note = (
            f"{source} is not one of Google's Gemini tokenizer models (sha256 {digest[:12]}...): "
            f"token counts are estimates for {model}"
        )
        return TokenizerChoice(
            SentencePieceTokenizer(model_bytes, f"sentencepiece:{source}"), False, note
        )
    return _shipped(known.key, wanted, model)


def _shipped(key: str, wanted: str | None, model: str) -> TokenizerChoice:
    """A shipped Gemini model: exact only for the models whose tokenizer it is."""
    tokenizer = GeminiTokenizer(key)
    if key == wanted:
        return TokenizerChoice(tokenizer, True)
    entry = GEMINI_TOKENIZER_MODELS[key]
    note = (
        f"{entry.filename} is the tokenizer of {entry.models}, not of {model}: "
        "token counts are estimates (leave out --tokenizer-model for exact counts)"
    )
    return TokenizerChoice(tokenizer, False, note)


def _estimate(name: str, model: str, gemini_key: str | None) -> TokenizerChoice:
    if gemini_key is None:
        note = (
            f"token counts are {name} estimates: tunestats ships no tokenizer for {model}; "
            "give --tokenizer hf:PATH (the model's tokenizer.json) to count its own tokens"
        )
    else:
        note = (
            f"token counts are {name} estimates, not {model}'s own tokens "
            "(leave out --tokenizer for exact counts)"
        )
    return TokenizerChoice(OpenAIEncoding(name), False, note)


def _hf_note(path: str, model: str, gemini_key: str | None) -> str:
    """Why an ``hf:`` file's counts are estimates: tunestats cannot know it is the model's own
    tokenizer (it ships no hashes of open models' files), and a Gemini model has its own."""
    if gemini_key is not None:
        return (
            f"{path} is a Hugging Face tokenizer, not {model}'s own: token counts are "
            "estimates (leave out --tokenizer for exact counts)"
        )
    return (
        f"token counts are estimates: tunestats cannot check that {path} is {model}'s own "
        "tokenizer (it knows no hash of open models' tokenizer files); if it is, the counts "
        "are that tokenizer's"
    )


def choose_tokenizer(
    name: str | None, tokenizer_model: str | None, gemini_key: str | None, model: str = "the model"
) -> TokenizerChoice:
    """Resolve ``--tokenizer`` / ``--tokenizer-model`` for a model and its Gemini tokenizer key.

    With neither, a Gemini model counts with its own shipped tokenizer (exact, offline); any
    other model with cl100k_base estimates. Google's download caches are never consulted: a
    file left in a shared temporary directory must not change which tokenizer a run uses.
    """
    if name is None or name == "gemini":
        if tokenizer_model is not None:
            data = _read_bytes(tokenizer_model)
            return _known_gemini(data, gemini_key, tokenizer_model, model)
        if gemini_key is not None:
            return _shipped(gemini_key, gemini_key, model)
        if name is None:
            return _estimate("cl100k_base", model, None)
        return _shipped("gemma3", None, model)  # --tokenizer gemini on an open model
    if name in OPENAI_ENCODINGS:
        return _estimate(name, model, gemini_key)
    if name.startswith("hf:"):
        return TokenizerChoice(HFTokenizer(name[3:]), False, _hf_note(name[3:], model, gemini_key))
    raise TokenizerError(
        f"unknown tokenizer {name!r}; choose gemini, cl100k_base, o200k_base or hf:PATH"
    )
