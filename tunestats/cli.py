"""CLI: ``tunestats stats SOURCE ...``, ``tunestats batch SOURCE... --out DEST``,
``tunestats emulator`` and ``tunestats models``.

Parses options, runs the pipeline (or the batch), prints. No statistics logic lives here.
Every error it prints, argparse's usage errors included, starts ``tunestats: error:``.
Exit codes of ``stats``: 0 done; 1 a source could not be read at all, or it has no valid
example; 2 usage error; 3 with ``--strict`` when any example was dropped or Vertex would
reject the job (SPEC §8); 130 interrupted
(Ctrl-C); 141 the reader of stdout went away (``| head``). Of ``batch``: 0 every
dataset was counted (or was unchanged); 1 at least one failed (see the summary); 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .config.arguments import (
    BATCH_JOBS_HELP,
    add_batch_arguments,
    add_count_options,
    count_options,
)
from .present.view import package_version
from .run.exits import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGPIPE, EXIT_STRICT, EXIT_USAGE

if TYPE_CHECKING:
    from .present.progress import Progress


PROG = "tunestats"


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors prefixed ``tunestats: error:`` as every other error of
    the command is (argparse would write ``tunestats stats: error:``); the usage line above
    still names the subcommand. Subparsers are made of this class too."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


# The options of ``stats`` alone (the counting options come from the option table).
_STATS_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--json", {"action": "store_true", "help": "print only the JSON document"}),
    (
        "--strict",
        {
            "action": "store_true",
            "help": "exit 3 if any example is dropped or Vertex would reject the job",
        },
    ),
    (
        "--html",
        {"metavar": "PATH", "help": "also write the report as one self-contained HTML page"},
    ),
    (
        "--report-json",
        {
            "metavar": "PATH",
            "help": "also write everything the report shows as one JSON object "
            "(docs/REPORT_JSON.md)",
        },
    ),
    (
        "--write-kept",
        {
            "metavar": "PATH",
            "help": "write the kept lines of the training set, byte for byte: a file to submit",
        },
    ),
    (
        "--write-dropped",
        {
            "metavar": "PATH",
            "help": "write each dropped line with its line number, code and reason, as JSONL",
        },
    ),
    (
        "--buckets",
        {"action": "store_true", "help": "show each histogram's bucket edges and counts"},
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Vertex AI tuning dataset statistics (tuningDataStats)."
    )
    parser.add_argument("--version", action="version", version=f"tunestats {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser(
        "stats",
        help="statistics of one dataset (and its validation set)",
        description="Compute the tuningDataStats that Vertex AI reports for a JSONL dataset.",
    )
    stats.add_argument("source", help="a path, - for stdin, or any fsspec URL (gs://...)")
    stats.add_argument("--validation", metavar="SOURCE", help="validation dataset")
    add_count_options(stats)
    for flag, settings in _STATS_FLAGS:
        stats.add_argument(flag, **settings)

    batch = commands.add_parser(
        "batch",
        help="statistics of many datasets (files, prefixes, globs; local or gs://)",
        description="Compute the statistics of every dataset named, write one record per "
        "dataset and a summary (JSONL and Parquet) under DEST. A rerun skips datasets whose "
        "generation (or size and mtime) and options are unchanged.",
    )
    add_batch_arguments(batch)
    batch.add_argument("--force", action="store_true", help="recompute unchanged datasets too")
    batch.add_argument(
        "--html",
        metavar="DIR",
        help="also write an HTML index of the datasets (DIR/index.html) and a page for each",
    )
    add_count_options(batch, jobs_help=BATCH_JOBS_HELP)

    emulator = commands.add_parser(
        "emulator",
        help="a local Vertex AI TuningJob API that Google's clients can drive",
        description="Serve projects.locations.tuningJobs (v1 and v1beta1) with tuningDataStats "
        "computed by tunestats. Needs the 'emulator' extra.",
    )
    emulator.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    emulator.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default 8080; 0: a free port)"
    )
    emulator.add_argument(
        "--data-dir", metavar="DIR", help="where the SQLite state lives (default: a temp dir)"
    )
    emulator.add_argument(
        "--allow-local-paths", action="store_true", help="accept dataset URIs that are not gs://"
    )
    emulator.add_argument(
        "--tokenizer", help="as for stats (default: the base model's own, exact for Gemini)"
    )
    emulator.add_argument(
        "--tokenizer-model", metavar="PATH", help="as for stats: another SentencePiece file"
    )
    for stage, default in (("pending", 0.2), ("running", 0.5), ("cancelling", 0.2)):
        emulator.add_argument(
            f"--{stage}-seconds",
            type=float,
            default=default,
            metavar="S",
            help=f"seconds a job stays {stage.upper()} at least (default {default})",
        )
    emulator.add_argument(
        "--count-timeout-seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds counting a job's datasets may take; then the job FAILS (default 600)",
    )

    commands.add_parser(
        "models",
        help="the models --model knows: token limit, tokenizer, whether Vertex tunes them now",
        description="List the base models --model knows: each one's generation, token limit "
        "per example, default tokenizer, and whether Vertex tunes it now.",
    )
    return parser


def _progress(args: argparse.Namespace) -> Progress | None:
    if args.quiet or not sys.stderr.isatty():
        return None
    from .present.progress import Progress

    return Progress(sys.stderr, slots=args.jobs or os.cpu_count() or 1)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # gcsfs logs each failed request with its traceback before it raises; the CLI prints one
    # line for the error instead (a library user keeps gcsfs's logging as configured).
    logging.getLogger("gcsfs").addHandler(logging.NullHandler())
    try:
        if args.command == "batch":
            return _batch(args)
        if args.command == "emulator":
            return _emulator(args)
        if args.command == "models":
            from .present.text import models_table

            print(models_table())
            return EXIT_OK
        return _stats(args)
    except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM in a batch): a line, no traceback
        _error(str(exc) or "interrupted")  # batch.BatchInterrupted says what was kept
        return getattr(exc, "exit_code", EXIT_SIGINT)  # 130, or 143 after SIGTERM
    except BrokenPipeError:  # `tunestats stats F | head`: the reader left; say nothing more
        _silence_stdout()
        return EXIT_SIGPIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit cannot fail again (Python docs,
    "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _terminal_bars() -> str:
    """Block characters for the histograms when stdout can show them, else ASCII ones; and
    any other character stdout cannot encode is written as an escape, not an error."""
    from .present.text import ASCII_BARS, BARS

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        BARS.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="backslashreplace")
        return ASCII_BARS
    return BARS


def _write_file(option: str, path: str, write: Callable[[str, Any], None], stats: Any) -> bool:
    """Write one of the run's files; False (and one line) when it cannot be written."""
    from .io.files import first_line

    try:
        write(path, stats)
    except Exception as exc:  # OSError locally; fsspec's filesystems raise their own
        _error(f"{option} {path}: cannot write: {first_line(exc)}")
        return False
    return True


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _stats(args: argparse.Namespace) -> int:
    from .config.profiles import UnknownModel
    from .io.files import SourceError
    from .io.writing import OutputError
    from .job.document import dumps
    from .present.text import job_report, media_line, text_report, tokenizer_line
    from .present.view import page_path_problem
    from .run.pipeline import compute
    from .tokenizers import TokenizerError

    if args.html is not None and not _html_available():
        return EXIT_USAGE
    for option, path in (("--html", args.html), ("--report-json", args.report_json)):
        if path is not None and (problem := page_path_problem(path)):  # said before counting
            _error(f"{option} {path}: cannot write: {problem}")
            return EXIT_FAILED
    progress = _progress(args)
    try:
        stats = compute(
            args.source,
            validation=args.validation,
            progress=progress,
            write_kept=args.write_kept,
            write_dropped=args.write_dropped,
            **count_options(args),
        )
    except (UnknownModel, TokenizerError, ValueError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (SourceError, OutputError) as exc:  # OutputError: --write-kept or --write-dropped
        _error(str(exc))
        return EXIT_FAILED
    finally:
        if progress is not None:
            progress.close()

    sources = [("training", stats.training)]
    if stats.validation is not None:
        sources.append(("validation", stats.validation))
    media = media_line(stats)
    if args.json:
        docs = {name: stats.to_dict(validation=name == "validation") for name, _ in sources}
        print(dumps(docs if len(docs) > 1 else docs["training"]))
        print(f"tunestats: {tokenizer_line(stats)}", file=sys.stderr)
        if media:
            print(f"tunestats: {media}", file=sys.stderr)
    else:
        bars = _terminal_bars()
        print(tokenizer_line(stats))
        if media:
            print(media)
        for name, s in sources:
            print()
            print(text_report(stats, s, name, bars=bars, buckets=args.buckets))
        print()
        print(job_report(stats))
    if args.json:  # stdout holds the document alone: the verdict goes to stderr
        for rejection in stats.readiness.rejections:
            print(f"tunestats: {rejection}", file=sys.stderr)
    if args.html is not None:
        from .present.view import write_page

        if not _write_file("--html", args.html, write_page, stats):
            return EXIT_FAILED
    if args.report_json is not None:
        from .present.report_json import write_report_json

        if not _write_file("--report-json", args.report_json, write_report_json, stats):
            return EXIT_FAILED

    empty = [s.uri for _, s in sources if s.kept == 0]
    if empty:
        _error(f"no valid example in {', '.join(empty)}; see the dropped examples above")
        return EXIT_FAILED
    if args.strict and (any(s.dropped for _, s in sources) or not stats.readiness.ready):
        dropped = sum(s.dropped for _, s in sources)
        rejected = len(stats.readiness.rejections)
        from .job.readiness import plural

        broken = plural(rejected, "job limit")
        _error(f"--strict: {plural(dropped, 'example')} dropped; {broken} broken")
        return EXIT_STRICT
    return EXIT_OK


def _html_available() -> bool:
    """Whether the HTML report's extra is installed (said before counting, not after)."""
    from .present.html import missing_extra

    if missing := missing_extra():
        _error(f"--html: {missing}")
        return False
    return True


def _batch(args: argparse.Namespace) -> int:
    from .batch import run_batch
    from .batch.outcome import report_batch
    from .config.profiles import UnknownModel
    from .tokenizers import TokenizerError

    if args.html is not None and not _html_available():
        return EXIT_USAGE
    progress = _progress(args)
    try:
        result = run_batch(
            args.sources,
            args.out,
            force=args.force,
            progress=progress,
            outputs=() if args.html is None else (args.html,),  # never read as datasets
            **count_options(args),
        )
    except (UnknownModel, TokenizerError, ValueError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except OSError as exc:  # DEST cannot be written
        _error(f"{args.out}: cannot write: {exc}")
        return EXIT_FAILED
    finally:
        if progress is not None:
            progress.close()
    jsonl, parquet = result.summary_jsonl, result.summary_parquet
    return report_batch(result.rows, jsonl, parquet, args.html, _error)


def _emulator(args: argparse.Namespace) -> int:
    try:
        from .emulator import serve
        from .emulator.lifecycle import Schedule
    except ImportError as exc:
        _error(f"the emulator needs its extra: pip install 'tunestats[emulator]' ({exc})")
        return EXIT_USAGE
    from .tokenizers import TokenizerError

    schedule = Schedule(args.pending_seconds, args.running_seconds, args.cancelling_seconds)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(
                host=args.host,
                port=args.port,
                data_dir=args.data_dir,
                allow_local_paths=args.allow_local_paths,
                schedule=schedule,
                tokenizer=args.tokenizer,
                tokenizer_model=args.tokenizer_model,
                count_timeout=args.count_timeout_seconds,
            )
    except (TokenizerError, ValueError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
