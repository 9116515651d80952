"""Count worker: ``python -m tunestats.emulator.count_worker [FD]``, a process that counts for
the emulator.

Started by ``datastats.ProcessCounter``, never by hand. Reads one JSON request per line on
stdin (a job's plan and the tokenizer options), counts, writes one JSON reply per line
(``tuningDataStats``, or the error that fails the job) on what was stdout; the real stdout
goes to stderr, so nothing a library prints can garble a reply. Ignores SIGINT (a Ctrl-C
reaches the whole process group; the emulator decides when a count ends) and exits when stdin
closes, or, in the middle of a count, when the pipe FD closes: the emulator is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if len(argv) > 1:
        threading.Thread(target=_exit_when_closed, args=(int(argv[1]),), daemon=True).start()
    import tunestats  # noqa: F401 - imported while the emulator's first job is PENDING

    from .datastats import serve_counts

    serve_counts(sys.stdin, replies)
    return 0


def _exit_when_closed(fd: int) -> None:
    """The emulator never writes to the pipe: its end closing means the emulator is gone."""
    with contextlib.suppress(OSError):
        os.read(fd, 1)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
