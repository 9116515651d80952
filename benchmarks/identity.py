"""Identity of tunestats' fast Gemini counter with SentencePiece, on any text files.

    python benchmarks/identity.py [GLOB...] [--limit 8000] [--model gemma3|gemma4|gemma2]

Counts every file whole with SentencePiece (the reference) and with tunestats' counter
(kitoken, and SentencePiece for the texts that need it), and prints each file on which they
differ, with the first differing line. Default: the .py, .md, .html and .txt files of the
installed packages (about 175 M characters for 8,000 files here). Not a test: it reads far
more text than the suite can, to look for a third kind of difference.
"""

from __future__ import annotations

import argparse
import glob
import site
import sys
import time

from tunestats import tokenizers as tk


def default_globs() -> list[str]:
    roots = site.getsitepackages()
    return [f"{root}/**/*.{ext}" for root in roots for ext in ("py", "md", "html", "txt")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("globs", nargs="*")
    parser.add_argument("--limit", type=int, default=8000, help="at most this many files")
    parser.add_argument("--model", default="gemma3", choices=sorted(tk.GEMINI_TOKENIZER_MODELS))
    args = parser.parse_args(argv)
    files: list[tuple[str, str]] = []
    for pattern in args.globs or default_globs():
        for path in sorted(glob.glob(pattern, recursive=True)):
            try:
                with open(path, encoding="utf-8") as f:
                    files.append((path, f.read()))
            except (OSError, UnicodeDecodeError):
                continue
    files = files[: args.limit]
    texts = [text for _, text in files]
    reference = tk.GeminiTokenizer(args.model, engine="sentencepiece")
    fast = tk.GeminiTokenizer(args.model, engine="kitoken")
    start = time.perf_counter()
    expected = reference.count(texts)
    middle = time.perf_counter()
    got = fast.count(texts)
    end = time.perf_counter()
    chars = sum(map(len, texts))
    print(
        f"{len(texts)} files, {chars / 1e6:.1f} M characters; "
        f"SentencePiece {middle - start:.1f} s, tunestats' counter {end - middle:.1f} s"
    )
    differ = 0
    for (path, text), a, b in zip(files, expected, got):
        if a == b:
            continue
        differ += 1
        lines = text.split("\n")
        first = next(
            (
                line
                for line, x, y in zip(lines, reference.count(lines), fast.count(lines))
                if x != y
            ),
            "?",
        )
        print(f"{path}: SentencePiece {a}, tunestats {b}; first line: {first[:120]!r}")
    print(f"{differ} files differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
