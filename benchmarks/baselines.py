"""The paths tunestats is compared with, each run as its own process by ``compare.py``.

    python benchmarks/baselines.py cookbook FILE
    python benchmarks/baselines.py hf FILE
    python benchmarks/baselines.py ceiling FILE [--jobs N]

Each prints one JSON object on stdout: ``{"seconds": ..., "stats": {...}}`` (``seconds`` is the
time measured inside the process: everything after imports for ``cookbook`` and ``hf``, the
counting alone for ``ceiling``).

- ``cookbook``: what the OpenAI/Vertex cookbooks do: ``json.loads`` every line into a list, count
  each message with tiktoken's ``encode_ordinary``, then numpy statistics.
- ``hf``: Hugging Face ``datasets``: ``load_dataset("json", ...)`` into a fresh cache folder,
  a batched ``map`` that counts with tiktoken's batch API (``encode_ordinary_batch``), then the
  same statistics.
- ``ceiling``: the tokenizer tunestats uses (bpe-openai's ``count``) counting the texts, already
  extracted (not timed), on N processes, one contiguous chunk each: the speed no end-to-end path
  can beat with this tokenizer.

All three count as SPEC §2 says for text-only Gemini and OpenAI-chat records: each text on its
own, input = system + user texts, output = model/assistant texts, messages = turns without a
leading system message; SPEC §3 statistics (nearest-rank order statistics in integers).
The generated datasets have no invalid lines, no media and no tools, which is all these
baselines handle.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

ENCODING = "cl100k_base"
TOKEN_LIMIT = 131_072  # gemini-2.5-flash, tunestats' default model: longer examples are dropped

Texts = tuple[list[str], list[str], int]  # input texts, output texts, messages


def texts_of(record: dict[str, Any]) -> Texts:
    """Input texts, output texts and message count of one text-only record."""
    inputs: list[str] = []
    outputs: list[str] = []
    if "contents" in record:  # gemini
        system = record.get("systemInstruction") or {}
        inputs.extend(part["text"] for part in system.get("parts") or [])
        contents = record["contents"]
        for content in contents:
            side = outputs if content["role"] == "model" else inputs
            side.extend(part["text"] for part in content["parts"] if part.get("text") is not None)
        return inputs, outputs, len(contents)
    messages = record["messages"]  # openai-chat
    for message in messages:
        if message.get("content") is not None:
            side = outputs if message["role"] == "assistant" else inputs
            side.append(message["content"])
    leading_system = bool(messages) and messages[0]["role"] == "system"
    return inputs, outputs, len(messages) - leading_system


def distribution(values: np.ndarray) -> dict[str, Any]:
    """SPEC §3: sum, min, max, mean and nearest-rank median/p5/p95 (rank ceil(q*n), integers)."""
    ordered = np.sort(values)
    n = len(ordered)

    def rank(numerator: int, denominator: int) -> int:
        return int(ordered[max(1, -(-numerator * n // denominator)) - 1])

    total = int(ordered.sum())
    return {
        "sum": total,
        "min": int(ordered[0]),
        "max": int(ordered[-1]),
        "mean": total / n,
        "median": rank(1, 2),
        "p5": rank(5, 100),
        "p95": rank(95, 100),
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


def cookbook(path: str) -> dict[str, Any]:
    from tunestats.tokenizers import tiktoken_encoding

    enc = tiktoken_encoding(ENCODING)
    start = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f if line.strip()]
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


def _ceiling_worker(span: tuple[int, int], ready: Any, go: Any, results: Any) -> None:
    from tunestats.tokenizers import OpenAIEncoding

    counter = OpenAIEncoding(ENCODING)
    texts = _TEXTS[span[0] : span[1]]
    ready.release()
    go.wait()
    start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    total = int(counter.count(texts).sum())
    results.put((total, start, time.perf_counter()))


def _extract(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ins, outs, _ = texts_of(json.loads(line))
                yield from ins
                yield from outs


def ceiling(path: str, jobs: int) -> dict[str, Any]:
    _TEXTS[:] = _extract(path)
    spans = _chunks([len(t) for t in _TEXTS], jobs)
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_ceiling_worker, args=(span, ready, go, results)) for span in spans
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
    parser.add_argument("path", choices=("cookbook", "hf", "ceiling"))
    parser.add_argument("file")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.path == "cookbook":
        result = cookbook(args.file)
    elif args.path == "hf":
        result = hf(args.file)
    else:
        result = ceiling(args.file, args.jobs)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
