"""Progress: a one-line bar on stderr while a long run reads its sources.

Counting stages report bytes and examples into a small shared array, one slot per worker
process (workers inherit it when they fork, so nothing is pickled and no lock is needed: each
slot has one writer). A thread in the main process redraws the line a few times a second,
starting only after ``delay`` seconds, so short runs print nothing. The CLI shows it only when
stderr is a terminal, and never with ``--quiet``.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

_BAR = 24


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:,.0f} B"
        n /= 1000
    return f"{n:,.1f} GB"


SLOT = 3  # counters per slot: bytes, examples, media objects read


def slots(counts: Any) -> int:
    """How many slots (one per writer) the shared counters hold."""
    return len(counts) // SLOT


def reporter(counts: Any, slot: int) -> Callable[..., None]:
    """A function that adds (bytes, examples[, media objects read]) to one slot."""

    def report(nbytes: int, examples: int, media: int = 0) -> None:
        counts[SLOT * slot] += nbytes
        counts[SLOT * slot + 1] += examples
        counts[SLOT * slot + 2] += media

    return report


def render(
    label: str, done: int, total: int | None, examples: int, seconds: float, media: int = 0
) -> str:
    """The progress line: what, how far, how many examples (and media objects), how fast."""
    rate = done / seconds if seconds > 0 else 0.0
    if total:
        share = min(1.0, done / total)
        filled = round(share * _BAR)
        bar = "[" + "#" * filled + "." * (_BAR - filled) + f"] {share:4.0%} "
        amount = f"{_size(done)} / {_size(total)}"
    else:
        bar, amount = "", _size(done)
    objects = f", {media:,} media objects read" if media else ""
    return f"{label} {bar}{amount}, {examples:,} examples{objects}, {_size(rate)}/s"


class Progress:
    """Shared counters plus the thread that draws them."""

    def __init__(self, stream: TextIO, slots: int = 1, delay: float = 1.0) -> None:
        self.stream = stream
        self.delay = delay
        self.counts = multiprocessing.RawArray("q", SLOT * max(1, slots))
        self.label = ""
        self.total: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def begin(self, label: str, total: int | None) -> None:
        """Start counting a new source (its size, when known, gives a percentage)."""
        self.label, self.total = label, total
        for i in range(len(self.counts)):
            self.counts[i] = 0
        self._started = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._draw_loop, daemon=True)
            self._thread.start()

    def line(self) -> str:
        done = sum(self.counts[0::SLOT])
        examples = sum(self.counts[1::SLOT])
        media = sum(self.counts[2::SLOT])
        seconds = time.monotonic() - self._started
        return render(self.label, done, self.total, examples, seconds, media)

    def _draw_loop(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self) -> None:
        self.stream.write("\r\x1b[2K" + self.line())
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
