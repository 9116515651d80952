"""Command: ``python -m tunestats.beam SOURCE... --out DEST [Beam options]``, ``tunestats batch``
on any Beam runner.

The same records and the same summary under DEST as ``tunestats batch`` (without the reuse of
unchanged records), the same table, summary lines, exit codes and ``--html``. Every option
this command does not own goes to Beam (``--runner``, ``--dask_client_address``,
``--direct_num_workers``, Dataflow's ``--project`` ...). What would run on the DirectRunner
runs on the FnApiRunner (no download); ``--runner DaskRunner`` is Beam's DaskRunner.

Hands to the user: the files under DEST, the table and the exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam

from .. import batch
from ..config.arguments import count_options
from ..config.options import Options
from ..config.plan import Plan, make_plan
from ..io import uris
from ..io.files import first_line
from ..present.html import missing_extra
from ..run.exits import EXIT_USAGE
from .transforms import ComputeStats, RecordDoc


class _WriteRecord(beam.DoFn):
    """Write a dataset's record under DEST (as run_batch does) and hand on its summary row."""

    def __init__(self, dest: str) -> None:
        self.dest = dest

    def process(self, element: tuple[str, RecordDoc]) -> Iterator[batch.Row]:
        _, doc = element
        # Idempotent: a retried bundle, or a task Dask runs again, rewrites the same bytes.
        yield batch.save_record(self.dest, batch.Record(doc))


class _WriteSummary(beam.DoFn):
    """Write the summary from all rows at once, in the order of the SOURCE arguments."""

    def __init__(self, dest: str, order: list[str], failed: list[batch.Row]) -> None:
        self.dest, self.order, self.failed = dest, order, failed

    def process(self, rows: list[batch.Row]) -> Iterator[str]:
        by_uri = {row.uri: row for row in [*self.failed, *rows]}
        lost = [uri for uri in self.order if uri not in by_uri]
        if lost:
            raise RuntimeError(f"no result for {len(lost)} dataset(s), such as {lost[0]}")
        jsonl, _ = batch.write_summary(self.dest, [by_uri[uri] for uri in self.order])
        yield jsonl


def build_pipeline(
    pipeline: beam.Pipeline,
    work: batch.Work,
    dest: str,
    *,
    shard_bytes: int = batch.BATCH_SHARD_BYTES,
    **options: Any,
) -> None:
    """Add the batch to ``pipeline``: count, write the records, then the summary.

    The summary is written by the pipeline itself, after a global combine of the rows: no
    temporary files under DEST, and it works wherever the workers can write DEST (the local
    disk on the DirectRunner, gs:// on Dataflow). All rows meet in one worker (a few hundred
    bytes per dataset). One chain, ending in the summary: the DaskRunner computes only the
    last step of a pipeline (dask_runner.py), so a second branch would never run there.
    """
    _ = (
        pipeline
        | "Datasets" >> beam.Create(work.datasets)
        | "Stats" >> ComputeStats(shard_bytes=shard_bytes, **options)
        | "WriteRecords" >> beam.ParDo(_WriteRecord(dest))
        | "AllRows" >> beam.combiners.ToList()
        | "WriteSummary" >> beam.ParDo(_WriteSummary(dest, work.order, list(work.failed.values())))
    )


def build_parser() -> argparse.ArgumentParser:
    from ..config.arguments import add_batch_arguments, add_count_options, positive_int

    parser = argparse.ArgumentParser(
        prog="python -m tunestats.beam",
        description="tunestats batch on an Apache Beam runner: one record per dataset and a "
        "summary (JSONL and Parquet) under DEST.",
        epilog="Every option this command does not know goes to Beam: --runner (DirectRunner, "
        "the default, runs on Beam's FnApiRunner; DataflowRunner; DaskRunner), "
        "--direct_num_workers N --direct_running_mode multi_processing, "
        "--dask_client_address tcp://HOST:PORT, Dataflow's --project P --region R "
        "--temp_location gs://B/tmp, and the rest of Beam's pipeline options.",
        allow_abbrev=False,  # a Beam option must never pass for an abbreviation of ours
    )
    add_batch_arguments(parser)
    add_count_options(parser, local=False)
    parser.add_argument(
        "--shard-bytes",
        type=positive_int,
        default=batch.BATCH_SHARD_BYTES,
        metavar="N",
        help=f"smallest byte range of a split dataset (default {batch.BATCH_SHARD_BYTES})",
    )
    parser.add_argument(
        "--html",
        metavar="DIR",
        help="also write an HTML index of the datasets (DIR/index.html) and a page for each",
    )
    return parser


def split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a command line into ours and Beam's, knowing which Beam options take a value.

    argparse's parse_known_args cannot: in ``--runner DataflowRunner a.jsonl`` it would take
    DataflowRunner for a SOURCE and hand Beam a bare ``--runner``.
    """
    flags = _beam_flags()
    ours: list[str] = []
    beams: list[str] = []
    k = 0
    while k < len(argv):
        arg = argv[k]
        nargs = flags.get(arg.split("=", 1)[0], "ours")
        if nargs == "ours":
            ours.append(arg)
            k += 1
            continue
        beams.append(arg)
        k += 1
        value = "=" not in arg and k < len(argv) and nargs != 0
        if value and (nargs is None or not argv[k].startswith("-")):
            beams.append(argv[k])
            k += 1
    return ours, beams


def _beam_flags() -> dict[str, Any]:
    """Every option Beam knows, with its argparse ``nargs`` (0: a switch, None: one value)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    # DaskOptions is known to Beam only once its runner's module is imported (no dask extra:
    # no such options).
    with contextlib.suppress(ImportError):
        import apache_beam.runners.dask.dask_runner  # noqa: F401
    parsers: list[argparse.ArgumentParser] = []  # Beam's own parser, with every option class
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    actions = parsers[0]._option_string_actions
    return {flag: a.nargs for flag, a in actions.items() if flag not in ("-h", "--help")}


# Beam's DirectRunner (2.60 and later) first tries Prism, a program it downloads from GitHub
# when it first runs; tunestats never downloads at run time. The FnApiRunner is the local
# engine the DirectRunner falls back to for a batch pipeline such as this one (CHOICES.md,
# "What tunestats contacts").
LOCAL_RUNNER = "FnApiRunner"
_DIRECT_RUNNERS = ("directrunner", "direct", "switchingdirectrunner")
# Beam has no short name for its DaskRunner (apache/beam#24578): ours.
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
_DASK_RUNNERS = ("daskrunner", "dask")


def offline_direct_runner(pipeline_options: Any) -> None:
    """Run what would go to the DirectRunner (named, or by default) on the FnApiRunner, and
    ``--runner DaskRunner`` on Beam's DaskRunner."""
    from apache_beam.options.pipeline_options import StandardOptions

    standard = pipeline_options.view_as(StandardOptions)
    if standard.runner is None or standard.runner.lower() in _DIRECT_RUNNERS:
        standard.runner = LOCAL_RUNNER
    elif standard.runner.lower() in _DASK_RUNNERS:
        standard.runner = DASK_RUNNER


# Dask partitions per worker thread: each partition costs every step a task (about 0.3 s of
# Beam's own work per step on a worker), so a few per thread keep the workers busy without
# paying that cost per dataset (benchmarks/cluster.py).
_PARTITIONS_PER_THREAD = 2


def dask_partitions(pipeline_options: Any, datasets: int) -> None:
    """On Dask, unless the user chose (``--dask_npartitions``, ``--dask_partition_size``): two
    partitions per worker thread of the cluster, at most one per dataset. The DaskRunner's
    own default puts up to 128 datasets in one partition, which one worker counts alone."""
    from apache_beam.options.pipeline_options import StandardOptions

    if (pipeline_options.view_as(StandardOptions).runner or "") != DASK_RUNNER:
        return
    from apache_beam.runners.dask.dask_runner import DaskOptions

    dask = pipeline_options.view_as(DaskOptions)
    if dask.partition_size is not None or dask.npartitions is not None:
        return
    threads = _cluster_threads(dask) or os.cpu_count() or 1
    dask.npartitions = max(1, min(datasets, _PARTITIONS_PER_THREAD * threads))


def _cluster_threads(dask: Any) -> int | None:
    """How many worker threads the cluster at ``--dask_client_address`` has (None: no address,
    or it does not answer; the run itself then says why)."""
    if not dask.address:
        return None
    try:
        from distributed import Client

        timeout = dask.timeout if isinstance(dask.timeout, int) else 30
        with Client(dask.address, timeout=timeout, set_as_default=False) as client:
            return sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()) or None
    except Exception:
        return None


def _remote_problem(runner: str | None, dest: str, sources: Sequence[str]) -> str | None:
    """Why a remote runner could not do this batch: its workers do not see local paths."""
    if runner is None or "dataflow" not in runner.lower():
        return None
    local = [p for p in [dest, *sources] if uris.is_local(p)]
    if local:
        return f"{local[0]}: {runner} workers cannot read or write local paths; use gs://"
    return None


def _error(message: str) -> None:
    print(f"tunestats.beam: error: {message}", file=sys.stderr)


def run_pipeline(
    pipeline_options: Any,
    work: batch.Work,
    args: argparse.Namespace,
    plan: Plan,
    options: dict[str, Any],
) -> None:
    """Run the batch; a pipeline that fails (a worker that kept dying) still leaves a summary:
    every dataset whose record is under DEST, the others failed with the pipeline's error."""
    pipeline = beam.Pipeline(options=pipeline_options)
    build_pipeline(pipeline, work, args.out, shard_bytes=args.shard_bytes, **options)
    result = None
    try:
        with _worker_stderr_filtered(pipeline_options):
            result = pipeline.run()
            result.wait_until_finish()
    except Exception as exc:
        batch.write_summary(args.out, _rows_after_failure(work, args.out, plan, exc))
    finally:
        client = getattr(result, "client", None)  # the DaskRunner's; Beam never closes it
        if client is not None:
            client.close()


@contextlib.contextmanager
def _worker_stderr_filtered(pipeline_options: Any) -> Iterator[None]:
    """In ``multi_processing`` mode Beam's worker processes write to the stderr they inherit,
    each its "apitools not found" warning (Beam's gcp extra is not installed): while the
    pipeline runs, stderr goes through a pipe that leaves that line out."""
    from apache_beam.options.pipeline_options import DirectOptions

    mode = pipeline_options.view_as(DirectOptions).direct_running_mode
    if mode != "multi_processing" or os.name != "posix":
        yield
        return
    sys.stderr.flush()
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    os.close(write)

    def pump() -> None:
        with os.fdopen(read, "rb", buffering=0) as lines:
            for line in iter(lines.readline, b""):
                if b"apitools not found" not in line:
                    os.write(saved, line)

    thread = threading.Thread(target=pump, name="tunestats-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe ends once the workers, which hold it too, are gone
        thread.join(timeout=5)


def _rows_after_failure(
    work: batch.Work, dest: str, plan: Plan, exc: BaseException
) -> list[batch.Row]:
    """The summary's rows of a pipeline that failed: a dataset counted in this run (its record
    is under DEST, for its version and these options) is computed; any other failed."""
    from ..counting.ranges import Failure

    error = f"the pipeline failed before this dataset was counted: {first_line(exc)}"
    rows = []
    infos = {info.uri: info for info in work.datasets}
    for uri in work.order:
        if uri in work.failed:
            rows.append(work.failed[uri])
            continue
        info = infos[uri]
        record = batch.stored_record(dest, info, plan)
        if record is not None:
            rows.append(batch.row_of(record, "computed", batch.record_path(dest, uri)))
        else:
            rows.append(batch.row_of(batch.Record.failed(Failure(info, error)), "computed", None))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the batch on the Beam runner the options name; 0 all counted, 1 some failed."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    ours, beam_args = split_args(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(ours)
    try:
        # An unknown model or tokenizer stops here, before any job.
        options = count_options(args, local=False)
        plan = make_plan(Options(**options))
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if args.html is not None and (missing := missing_extra()):
        _error(f"--html: {missing}")
        return EXIT_USAGE
    pipeline_options = PipelineOptions(beam_args)
    offline_direct_runner(pipeline_options)
    problem = _remote_problem(
        pipeline_options.view_as(StandardOptions).runner, args.out, args.sources
    )
    if problem:
        _error(problem)
        return EXIT_USAGE

    mine = [args.out] if args.html is None else [args.out, args.html]
    work = batch.work_of(batch.expand(args.sources, mine))  # our outputs: never datasets
    if work.datasets:
        dask_partitions(pipeline_options, len(work.datasets))
        run_pipeline(pipeline_options, work, args, plan, options)
    else:  # nothing to count: no job to start
        batch.write_summary(args.out, [work.failed[uri] for uri in work.order])

    from ..batch.outcome import report_batch

    jsonl, parquet = batch.summary_paths(args.out)
    return report_batch(batch.read_summary(args.out), jsonl, parquet, args.html, _error)
