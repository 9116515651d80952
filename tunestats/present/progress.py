"""Progress: a one-line bar on stderr while a long run reads its sources.

Counting stages report bytes and examples into a small shared array, one slot per worker
process (workers inherit it when they fork, so nothing is pickled and no lock is needed: each
slot has one writer). A thread in the main process redraws the line a few times a second,
starting only after ``delay`` seconds, so short runs print nothing. The CLI shows it only when
stderr is a terminal, and never with ``--quiet``.

The line fits the terminal's width, read again at every redraw (a line longer than the
terminal wraps, and each redraw would then leave a line behind): the bar shrinks, then goes,
then the label is shortened from the left ("…"), and only then are numbers left out, the
least useful first. With a known total it shows a percentage and the time left (ETA).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import Any, TextIO

_BAR = 24
_MIN_BAR = 8  # a narrower bar says nothing the percentage does not
_MIN_LABEL = 12  # cells the label keeps before any number is left out
_ELLIPSIS = "…"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:,.0f} B"
        n /= 1000
    return f"{n:,.1f} GB"


def _clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


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


def _cells(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _tail(text: str, cells: int) -> str:
    """``text`` in at most ``cells`` columns: its end, after "…" when it had to be cut."""
    if _cells(text) <= cells:
        return text
    kept: list[str] = []
    used = 1  # the ellipsis
    for c in reversed(text):
        used += _cells(c)
        if used > cells:
            break
        kept.append(c)
    return _ELLIPSIS + "".join(reversed(kept)) if cells >= 1 else ""


def _printable(label: str) -> str:
    """The label with control characters escaped: a file name must not move the cursor."""
    if label.isprintable():
        return label
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in label)


def share_done(done: int, total: int | None, items: tuple[int, int] | None) -> float | None:
    """How far a run is, 0 to 1: by bytes when their total is known, else by items (datasets
    of a batch); None when neither is known."""
    if total:
        return min(1.0, done / total)
    if items is not None and items[1] > 0:
        return min(1.0, items[0] / items[1])
    return None


def render(
    label: str,
    done: int,
    total: int | None,
    examples: int,
    seconds: float,
    media: int = 0,
    *,
    width: int | None = None,
    items: tuple[int, int] | None = None,
) -> str:
    """The progress line: what, how far, how many examples (and media objects), how fast, how
    long still; in fewer than ``width`` columns when given (None: as long as it takes).
    ``items``: (done, total) of the units a run counts (a batch's datasets), for the share
    when the bytes have no known total."""
    rate = done / seconds if seconds > 0 else 0.0
    share = share_done(done, total, items)
    percent = f"{share:4.0%}" if share is not None else None
    # (rank, text) in the order shown; the highest rank is left out first when space is short.
    numbers = [(2, f"{_size(done)} / {_size(total)}" if total else _size(done))]
    numbers.append((3, f"{examples:,} examples"))
    if media:
        numbers.append((4, f"{media:,} media objects read"))
    numbers.append((5, f"{_size(rate)}/s"))
    if share is not None and 0 < share < 1 and seconds > 0:
        numbers.append((1, f"ETA {_clock(seconds * (1 - share) / share)}"))
    return _fit(_printable(label), share, percent, numbers, width)


def _line(label: str, bar: str, percent: str | None, numbers: list[tuple[int, str]]) -> str:
    joined = ", ".join(text for _, text in numbers)
    return " ".join(p for p in (label, bar, percent, joined) if p)


def _bar(share: float, cells: int) -> str:
    filled = round(share * cells)
    return "[" + "#" * filled + "." * (cells - filled) + "]"


def _fit(
    label: str,
    share: float | None,
    percent: str | None,
    numbers: list[tuple[int, str]],
    width: int | None,
) -> str:
    if share is None:
        bar_cells = 0
    elif width is None:
        bar_cells = _BAR
    else:
        # One column short of the width: a line that fills it leaves some terminals' cursor
        # past the edge, and the next redraw one line lower.
        room = width - 1 - _cells(_line(label, "", percent, numbers)) - 3  # " [" "]"
        bar_cells = min(_BAR, room) if room >= _MIN_BAR else 0
    line = _line(label, _bar(share, bar_cells) if bar_cells else "", percent, numbers)
    if width is None or _cells(line) < width:
        return line
    limit = width - 1
    numbers = list(numbers)
    while True:
        rest = _line("", "", percent, numbers)
        room = limit - _cells(rest) - 1  # a space between the label and the rest
        if room >= min(_MIN_LABEL, _cells(label)) or not numbers:
            line = " ".join(p for p in (_tail(label, max(room, 0)), rest) if p).lstrip()
            return line if _cells(line) <= limit else _tail(line, limit)
        numbers.remove(max(numbers))  # the highest rank goes first


def _columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to (COLUMNS first, as shutil reads it)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
        if columns > 0:
            return columns
    except ValueError:
        pass
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):  # not a file, or not a terminal
        return shutil.get_terminal_size().columns


class Progress:
    """Shared counters plus the thread that draws them."""

    def __init__(self, stream: TextIO, slots: int = 1, delay: float = 1.0) -> None:
        self.stream = stream
        self.delay = delay
        self.counts = multiprocessing.RawArray("q", SLOT * max(1, slots))
        self.label = ""
        self.total: int | None = None
        self.items: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def begin(self, label: str, total: int | None, items: int | None = None) -> None:
        """Start counting a new source (its size, when known, gives a percentage); ``items``:
        how many units (datasets) it counts in all, when it counts several (:meth:`advance`)."""
        self.label, self.total = label, total
        self.items = None if items is None else (0, items)
        for i in range(len(self.counts)):
            self.counts[i] = 0
        self._started = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._draw_loop, daemon=True)
            self._thread.start()

    def advance(self, label: str, done: int) -> None:
        """``done`` of the units are counted; the label says so."""
        self.label = label
        if self.items is not None:
            self.items = (done, self.items[1])

    def line(self, width: int | None = None) -> str:
        done = sum(self.counts[0::SLOT])
        examples = sum(self.counts[1::SLOT])
        media = sum(self.counts[2::SLOT])
        seconds = time.monotonic() - self._started
        return render(
            self.label, done, self.total, examples, seconds, media, width=width, items=self.items
        )

    def _draw_loop(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self) -> None:
        self.stream.write("\r\x1b[2K" + self.line(_columns(self.stream)))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
