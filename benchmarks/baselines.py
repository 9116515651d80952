"""The paths tunestats is compared with, each run as its own process by ``compare.py``.

    python benchmarks/baselines.py genai FILE
    python benchmarks/baselines.py ceiling FILE [--jobs N] [--tokenizer gemini|cl100k_base]
    python benchmarks/baselines.py ceiling-threads FILE [--jobs N]
    python benchmarks/baselines.py ceiling-tunestats FILE [--jobs N]
    python benchmarks/baselines.py ceiling-tunestats-threads FILE [--jobs N]
    python benchmarks/baselines.py cookbook FILE
    python benchmarks/baselines.py hf FILE

Each prints one JSON object on stdout: ``{"seconds": ..., "stats": {...}}`` (``seconds`` is the
time measured inside the process: everything after imports for ``genai``, ``cookbook`` and
``hf``, the counting alone for the ceilings).

With the Gemini tokenizer (the shipped ``gemma3`` SentencePiece model, as tunestats counts by
default):

- ``genai``: what Google's token-count notebook does (GoogleCloudPlatform/generative-ai,
  ``gemini/tuning/vertexai_supervised_tuning_token_count_and_cost_estimation.ipynb``):
  ``json.loads`` every line into a list, count every example, numpy statistics; but with
  google-genai's ``LocalTokenizer("gemini-2.5-flash").count_tokens``, once for the input (user
  turns, function responses included, with the system instruction and the tools in its
  config) and once for the output (model turns: text and ``functionCall`` parts). One process.
- ``ceiling``: SentencePiece on the texts, already extracted (not timed), in N forked processes,
  one contiguous chunk each, ``num_threads=1``.
- ``ceiling-threads``: the same texts in one process, ``encode(batch, num_threads=N)``.
- ``ceiling-tunestats-threads``: tunestats' own Gemini counter in one process on N threads,
  the configuration ``tunestats stats`` chooses by default.
- ``ceiling-tunestats``: the same texts in N forked processes, counted by tunestats' own Gemini
  counter (``tunestats.tokenizers.GeminiTokenizer("gemma3", threads=1)``, its faster engine,
  kitoken, loaded beforehand with ``warm()`` when it has one): the ceiling of what tunestats
  actually counts with, when that is not SentencePiece alone.

With ``cl100k_base`` (``--tokenizer cl100k_base`` in ``compare.py``):

- ``cookbook``: what the OpenAI/Vertex cookbooks do: ``json.loads`` every line into a list, count
  each text with tiktoken's ``encode_ordinary``, then numpy statistics.
- ``hf``: Hugging Face ``datasets``: ``load_dataset("json", ...)`` into a fresh cache folder,
  a batched ``map`` that counts with tiktoken's batch API (``encode_ordinary_batch``), then the
  same statistics. Text-only files only: Arrow gives every record the union of all keys, so
  function-call arguments would gain keys.
- ``ceiling --tokenizer cl100k_base``: bpe-openai's ``count`` (the tokenizer tunestats uses) on
  N processes, as above.

All count as SPEC §2 says for the Gemini and OpenAI-chat records ``generate.py`` writes: each
text on its own, input = system + user texts (+ function responses and tools), output =
model/assistant texts (+ function calls), messages = turns without a leading system message; a
function call, response or declaration gives the texts google-genai's LocalTokenizer takes from
it (:func:`call_texts`, :func:`tool_texts`). SPEC §3 statistics: median the value of rank
``ceil(n/2)``, p5 and p95 of rank ``floor(q*n) + 1`` (at most n). The generated datasets have no
invalid lines and no media, which is all these baselines handle.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

TOKENIZERS = ("gemini", "cl100k_base")
PATHS = (
    "genai",
    "ceiling",
    "ceiling-threads",
    "ceiling-tunestats",
    "ceiling-tunestats-threads",
    "cookbook",
    "hf",
)
ENCODING = "cl100k_base"
GEMINI_KEY = "gemma3"  # the SentencePiece model of gemini-2.5-flash, tunestats' default model
GENAI_MODEL = "gemini-2.5-flash"
TOKEN_LIMIT = 131_072  # gemini-2.5-flash: longer examples are dropped
SP_BATCH = 2048  # texts per SentencePiece encode call in the ceilings

Texts = tuple[list[str], list[str], int]  # input texts, output texts, messages


def value_texts(value: Any, out: list[str]) -> None:
    """Every object key and string value, at any depth (LocalTokenizer's ``_dict_traverse``)."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        out.extend(value)
        for item in value.values():
            value_texts(item, out)
    elif isinstance(value, list):
        for item in value:
            value_texts(item, out)


def call_texts(call: dict[str, Any], payload: str, out: list[str]) -> None:
    """A functionCall (``args``) or functionResponse (``response``): its name and payload."""
    if call.get("name"):
        out.append(call["name"])
    if call.get(payload):
        value_texts(call[payload], out)


def schema_texts(schema: dict[str, Any] | None, out: list[str]) -> None:
    """LocalTokenizer's ``add_schema``: not type, title or default."""
    if not schema:
        return
    for key in ("format", "description"):
        if schema.get(key):
            out.append(schema[key])
    for key in ("enum", "required"):
        out.extend(schema.get(key) or ())
    schema_texts(schema.get("items"), out)
    for key, value in (schema.get("properties") or {}).items():
        out.append(key)
        schema_texts(value, out)
    if schema.get("example"):
        value_texts(schema["example"], out)


def tool_texts(tools: list[dict[str, Any]], out: list[str]) -> None:
    """LocalTokenizer's ``add_tool``: function declarations only."""
    for tool in tools:
        for declaration in tool.get("functionDeclarations") or ():
            for key in ("name", "description"):
                if declaration.get(key):
                    out.append(declaration[key])
            schema_texts(declaration.get("parameters"), out)
            schema_texts(declaration.get("response"), out)


def texts_of(record: dict[str, Any]) -> Texts:
    """Input texts, output texts and message count of one record without media."""
    inputs: list[str] = []
    outputs: list[str] = []
    if "contents" in record:  # gemini
        system = record.get("systemInstruction") or {}
        inputs.extend(part["text"] for part in system.get("parts") or [])
        tool_texts(record.get("tools") or [], inputs)
        contents = record["contents"]
        for content in contents:
            side = outputs if content["role"] == "model" else inputs
            for part in content["parts"]:
                if part.get("text") is not None:
                    side.append(part["text"])
                elif "functionCall" in part:
                    call_texts(part["functionCall"], "args", side)
                elif "functionResponse" in part:
                    call_texts(part["functionResponse"], "response", side)
        return inputs, outputs, len(contents)
    messages = record["messages"]  # openai-chat
    for message in messages:
        if message.get("content") is not None:
            side = outputs if message["role"] == "assistant" else inputs
            side.append(message["content"])
    leading_system = bool(messages) and messages[0]["role"] == "system"
    return inputs, outputs, len(messages) - leading_system


def load_records(path: str) -> list[dict[str, Any]]:
    """What the notebook and the cookbooks do first: ``json.loads`` every line into one list."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def distribution(values: np.ndarray) -> dict[str, Any]:
    """SPEC §3, as tunestats computes it, from numpy's sum, min, max, mean and sort.

    The mean is exact: numpy adds int64 values as doubles, exactly while the sum is below 2^53.
    """
    ordered = np.sort(values)
    n = len(ordered)

    def of_rank(rank: int) -> int:  # 1-based
        return int(ordered[min(max(1, rank), n) - 1])

    return {
        "sum": int(np.sum(ordered)),
        "min": int(np.min(ordered)),
        "max": int(np.max(ordered)),
        "mean": float(np.mean(ordered)),
        "median": of_rank(-(-n // 2)),
        "p5": of_rank(n * 5 // 100 + 1),
        "p95": of_rank(n * 95 // 100 + 1),
    }


def summarize(inputs: np.ndarray, outputs: np.ndarray, messages: np.ndarray) -> dict[str, Any]:
    """The statistics every path reports, over the examples within the token limit."""
    keep = inputs + outputs <= TOKEN_LIMIT
    inputs, outputs, messages = inputs[keep], outputs[keep], messages[keep]
    return {
        "examples": int(keep.sum()),
        "tokens": int(inputs.sum() + outputs.sum()),
        "input": distribution(inputs),
        "output": distribution(outputs),
        "messages": distribution(messages),
    }


# --- Gemini -----------------------------------------------------------------------------------


def seed_genai_cache(folder: str) -> None:
    """Put the shipped model where google-genai looks first, so it downloads nothing.

    ``google/genai/_local_tokenizer_loader.py`` reads
    ``<tempdir>/vertexai_tokenizer_model/<sha1 of the model URL>`` and checks its sha256.
    """
    from tunestats.tokenizers import GEMINI_TOKENIZER_MODELS, shipped_model_bytes

    url = GEMINI_TOKENIZER_MODELS[GEMINI_KEY].url
    cache = os.path.join(folder, "vertexai_tokenizer_model")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()), "wb") as f:
        f.write(shipped_model_bytes(GEMINI_KEY))
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder


def genai_tokenizer(folder: str) -> Any:
    """google-genai's LocalTokenizer for gemini-2.5-flash, loaded offline from ``folder``."""
    seed_genai_cache(folder)
    import warnings

    from google.genai.local_tokenizer import LocalTokenizer

    warnings.filterwarnings("ignore", message=".*local tokenizer.*experimental")
    return LocalTokenizer(model_name=GENAI_MODEL)


def genai(path: str) -> dict[str, Any]:
    from google.genai import types

    folder = tempfile.mkdtemp(prefix="tunestats-genai-")
    try:
        tokenizer = genai_tokenizer(folder)
        start = time.perf_counter()
        dataset = load_records(path)
        inputs, outputs, messages = [], [], []
        for example in dataset:
            contents = [types.Content.model_validate(c) for c in example["contents"]]
            config: dict[str, Any] = {}
            if example.get("systemInstruction"):
                config["system_instruction"] = example["systemInstruction"]
            if example.get("tools"):
                config["tools"] = example["tools"]
            user = [c for c in contents if c.role != "model"]
            model = [c for c in contents if c.role == "model"]
            inputs.append(tokenizer.count_tokens(user, config=config).total_tokens)
            outputs.append(tokenizer.count_tokens(model).total_tokens)
            messages.append(len(contents))
        stats = summarize(np.array(inputs), np.array(outputs), np.array(messages))
        return {"seconds": time.perf_counter() - start, "stats": stats}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sentencepiece() -> Any:
    import sentencepiece

    from tunestats.tokenizers import shipped_model_bytes

    return sentencepiece.SentencePieceProcessor(model_proto=shipped_model_bytes(GEMINI_KEY))


def _sp_count(sp: Any, texts: list[str], threads: int) -> int:
    total = 0
    for i in range(0, len(texts), SP_BATCH):
        total += sum(map(len, sp.encode(texts[i : i + SP_BATCH], num_threads=threads)))
    return total


class _SentencePieceCounter:
    """The ceiling's counter for Gemini: one SentencePiece processor, one thread."""

    def __init__(self) -> None:
        self.sp = _sentencepiece()

    def total(self, texts: list[str]) -> int:
        return _sp_count(self.sp, texts, 1)


class _TunestatsGeminiCounter:
    """tunestats' own Gemini counter, in the engine it uses for a large run."""

    def __init__(self) -> None:
        from tunestats.tokenizers import GeminiTokenizer

        self.tokenizer = GeminiTokenizer(GEMINI_KEY, threads=1)
        warm = getattr(self.tokenizer, "warm", None)  # loads kitoken, where tunestats has it
        if warm is not None:
            warm()

    def total(self, texts: list[str]) -> int:
        return sum(
            int(self.tokenizer.count(texts[i : i + SP_BATCH]).sum())
            for i in range(0, len(texts), SP_BATCH)
        )


def ceiling_tunestats_threads(path: str, jobs: int) -> dict[str, Any]:
    """tunestats' Gemini counter in one process on ``jobs`` threads: the configuration a run
    of ``tunestats stats`` uses by default (kitoken releases the GIL)."""
    from tunestats.tokenizers import GeminiTokenizer

    texts = list(_extract(path))
    tokenizer = GeminiTokenizer(GEMINI_KEY, threads=jobs)
    tokenizer.warm()
    tokenizer.count(texts[:SP_BATCH])  # warm up its threads
    start = time.perf_counter()
    total = sum(
        int(tokenizer.count(texts[i : i + SP_BATCH]).sum()) for i in range(0, len(texts), SP_BATCH)
    )
    return {"seconds": time.perf_counter() - start, "stats": {"tokens": total}}


def ceiling_threads(path: str, jobs: int) -> dict[str, Any]:
    texts = list(_extract(path))
    sp = _sentencepiece()
    _sp_count(sp, texts[:SP_BATCH], jobs)  # warm up SentencePiece's threads and caches
    start = time.perf_counter()
    total = _sp_count(sp, texts, jobs)
    return {"seconds": time.perf_counter() - start, "stats": {"tokens": total}}


# --- cl100k_base ------------------------------------------------------------------------------


def cookbook(path: str) -> dict[str, Any]:
    from tunestats.tokenizers import tiktoken_encoding

    enc = tiktoken_encoding(ENCODING)
    start = time.perf_counter()
    dataset = load_records(path)
    inputs, outputs, messages = [], [], []
    for record in dataset:
        ins, outs, count = texts_of(record)
        inputs.append(sum(len(enc.encode_ordinary(text)) for text in ins))
        outputs.append(sum(len(enc.encode_ordinary(text)) for text in outs))
        messages.append(count)
    stats = summarize(np.array(inputs), np.array(outputs), np.array(messages))
    return {"seconds": time.perf_counter() - start, "stats": stats}


def hf(path: str) -> dict[str, Any]:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import datasets

    from tunestats.tokenizers import tiktoken_encoding

    datasets.disable_progress_bars()
    enc = tiktoken_encoding(ENCODING)

    def count(batch: dict[str, list[Any]]) -> dict[str, list[int]]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        texts: list[str] = []
        owners: list[int] = []  # 2*row for input, 2*row + 1 for output
        messages = []
        for row_index, row in enumerate(rows):
            ins, outs, n = texts_of(row)
            for side, side_texts in ((0, ins), (1, outs)):
                texts.extend(side_texts)
                owners.extend([2 * row_index + side] * len(side_texts))
            messages.append(n)
        lengths = [len(tokens) for tokens in enc.encode_ordinary_batch(texts)]
        sums = np.bincount(owners, weights=lengths, minlength=2 * len(rows)).astype(np.int64)
        return {"input": sums[0::2].tolist(), "output": sums[1::2].tolist(), "messages": messages}

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tunestats-hf-") as cache:
        ds = datasets.load_dataset("json", data_files=path, cache_dir=cache, split="train")
        counted = ds.map(count, batched=True, batch_size=1000, remove_columns=ds.column_names)
        stats = summarize(
            np.array(counted["input"]), np.array(counted["output"]), np.array(counted["messages"])
        )
        del ds, counted
    return {"seconds": time.perf_counter() - start, "stats": stats}


class _OpenAICounter:
    """The ceiling's counter for cl100k_base: bpe-openai's ``count``, as tunestats uses it."""

    def __init__(self) -> None:
        from tunestats.tokenizers import OpenAIEncoding

        self.encoding = OpenAIEncoding(ENCODING)

    def total(self, texts: list[str]) -> int:
        return int(self.encoding.count(texts).sum())


# --- the process ceiling (both tokenizers) ----------------------------------------------------

_TEXTS: list[str] = []  # the ceiling's texts, inherited by its forked workers


def _chunks(lengths: list[int], parts: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) ranges of about equal total length."""
    total = sum(lengths)
    bounds = [0]
    running = 0
    for i, length in enumerate(lengths):
        running += length
        if len(bounds) < parts and running >= total * len(bounds) / parts:
            bounds.append(i + 1)
    bounds += [len(lengths)] * (parts + 1 - len(bounds))
    return list(zip(bounds, bounds[1:]))


COUNTERS = {
    "gemini": _SentencePieceCounter,
    "tunestats": _TunestatsGeminiCounter,
    "cl100k_base": _OpenAICounter,
}


def _ceiling_worker(
    counter_name: str, span: tuple[int, int], ready: Any, go: Any, results: Any
) -> None:
    counter = COUNTERS[counter_name]()
    texts = _TEXTS[span[0] : span[1]]
    counter.total(texts[:64])  # warm up, as the threads variant does
    ready.release()
    go.wait()
    start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    total = counter.total(texts)
    results.put((total, start, time.perf_counter()))


def _extract(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ins, outs, _ = texts_of(json.loads(line))
                yield from ins
                yield from outs


def ceiling(path: str, jobs: int, counter: str = "gemini") -> dict[str, Any]:
    """``counter``: ``gemini`` (SentencePiece), ``tunestats`` (its Gemini counter) or
    ``cl100k_base`` (bpe-openai)."""
    _TEXTS[:] = _extract(path)
    spans = _chunks([len(t) for t in _TEXTS], jobs)
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_ceiling_worker, args=(counter, span, ready, go, results))
        for span in spans
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    go.set()
    answers = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(end for _, _, end in answers) - min(start for _, start, _ in answers)
    return {"seconds": seconds, "stats": {"tokens": sum(total for total, _, _ in answers)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one baseline path, as its own process")
    parser.add_argument("path", choices=PATHS)
    parser.add_argument("file")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tokenizer", choices=TOKENIZERS, default="gemini", help="for ceiling")
    args = parser.parse_args(argv)
    if args.path == "genai":
        result = genai(args.file)
    elif args.path == "ceiling":
        result = ceiling(args.file, args.jobs, args.tokenizer)
    elif args.path == "ceiling-threads":
        result = ceiling_threads(args.file, args.jobs)
    elif args.path == "ceiling-tunestats":
        result = ceiling(args.file, args.jobs, "tunestats")
    elif args.path == "ceiling-tunestats-threads":
        result = ceiling_tunestats_threads(args.file, args.jobs)
    elif args.path == "cookbook":
        result = cookbook(args.file)
    else:
        result = hf(args.file)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
