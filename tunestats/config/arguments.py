"""Arguments: the command-line options, derived from the one option table (``Options``).

Each field of :class:`~tunestats.config.options.Options` that the command line offers becomes
``--its-name``, with the help text of its metadata; :func:`count_options` turns parsed
arguments back into Options fields. ``tunestats stats``, ``tunestats batch`` and
``python -m tunestats.beam`` all build their parsers here, so an option is written once.

Hands to the CLI and to Beam: argparse parsers and the keyword arguments of ``compute``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from .options import Options, option_fields


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _offered(local: bool) -> list[dataclasses.Field]:
    return [
        f
        for f in option_fields()
        if f.metadata["cli"] and (local or not f.metadata.get("local", False))
    ]


# --jobs in a batch: datasets are counted side by side, whatever the tokenizer.
BATCH_JOBS_HELP = (
    "processes (default: one per core; each counts a dataset, or a range of a large one)"
)


def add_count_options(
    parser: argparse.ArgumentParser, local: bool = True, jobs_help: str | None = None
) -> None:
    """The options that decide how datasets are counted; ``local`` adds --jobs and --quiet
    (the options of one machine, which a Beam pipeline does not take). ``jobs_help`` says
    what --jobs defaults to in a command whose default differs from ``stats``'s."""
    for f in _offered(local):
        settings: dict[str, Any] = {"help": f.metadata["help"]}
        if f.name == "jobs" and jobs_help is not None:
            settings["help"] = jobs_help
        for key in ("choices", "metavar"):  # argparse's own settings
            if key in f.metadata:
                settings[key] = f.metadata[key]
        if f.default is not dataclasses.MISSING and f.default is not None:
            settings["default"] = f.default
        if "type" in f.metadata:
            settings["type"] = f.metadata["type"]
        elif "int" in str(f.type):
            settings["type"] = positive_int
        parser.add_argument("--" + f.name.replace("_", "-"), **settings)
    if local:
        parser.add_argument("--quiet", action="store_true", help="no progress bar")


def count_options(args: argparse.Namespace, local: bool = True) -> dict[str, Any]:
    """The Options fields of parsed arguments, as keyword arguments of ``compute``."""
    if args.batch_size is not None and args.epochs is None:
        # The API leaves tuningStepCount out; on the command line it is surely a mistake.
        raise ValueError(
            "--batch-size needs --epochs: tuning steps are epochs x ceil(examples / batch size)"
        )
    return {f.name: getattr(args, f.name) for f in _offered(local)}


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE... and --out DEST, as ``batch`` and ``python -m tunestats.beam`` take them."""
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a file, a prefix (every *.jsonl or *.ndjson under it, compressed ones included) "
        "or a glob such as 'gs://bucket/tuning/**/*.jsonl'",
    )
    parser.add_argument("--out", required=True, metavar="DEST", help="local path or gs:// URL")


__all__ = [
    "BATCH_JOBS_HELP",
    "Options",
    "add_batch_arguments",
    "add_count_options",
    "count_options",
    "positive_int",
]
