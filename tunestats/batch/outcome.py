"""Outcome: what ``tunestats batch`` and ``python -m tunestats.beam`` print when a batch is
done, and the exit code they return: one place for both commands.

Takes the summary's rows and where its files are; hands the user the table, the summary lines,
the HTML index (``--html``) and each failed dataset's error.
"""

from __future__ import annotations

from collections.abc import Callable

from ..io.files import first_line
from ..run.exits import EXIT_FAILED, EXIT_OK
from .pages import write_batch_html
from .summary import Row, summary_lines, table


def report_batch(
    rows: list[Row], jsonl: str, parquet: str, html: str | None, error: Callable[[str], None]
) -> int:
    """Print the table and the summary lines, write the HTML pages, say each error (through
    ``error``); return the exit code."""
    print(table(rows))
    print("\n" + "\n".join(summary_lines(rows, jsonl, parquet)))
    if html is not None:
        try:
            print(f"HTML index in {write_batch_html(html, rows)}")
        except Exception as exc:  # OSError locally; fsspec's filesystems raise their own
            error(f"--html {html}: cannot write: {first_line(exc)}")
            return EXIT_FAILED
    failed = [row for row in rows if row.status == "failed"]
    for row in failed:
        error(row.error or row.uri)
    return EXIT_FAILED if failed else EXIT_OK
