"""The engine against an independent reference implementation (tests/support/oracle.py).

For each generated dataset (tests/support/gen_cases.py) and each file of the shared corpus, the
engine's ``Stats.to_dict()`` must equal the oracle's document exactly, field by field, except
the wording of ``droppedExampleReasons`` (only their number is compared). Line accounting
(``lines = kept + dropped + blank``) must match too.

The oracle counts tokens with a cl100k_base encoding built offline: ranks from the gzip file
shipped in the ``bpe_openai`` package, the pattern copied from ``tiktoken_ext/openai_public.py``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.resources
import json
from pathlib import Path

import pytest

from tests.support import gen_cases
from tests.support.oracle import OracleSourceError, buckets_of, distribution, oracle_run

tunestats = pytest.importorskip("tunestats")

from tests.conftest import CORPUS  # noqa: E402

# From tiktoken_ext/openai_public.py, cl100k_base.
CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

DROP_REASON_KEYS = ("droppedExampleReasons",)


@functools.lru_cache(maxsize=1)
def oracle_encoding():
    import tiktoken

    data = importlib.resources.files("bpe_openai.data").joinpath("cl100k_base.tiktoken.gz")
    ranks = {}
    for line in gzip.decompress(data.read_bytes()).splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="cl100k_base_oracle",
        pat_str=CL100K_PAT_STR,
        mergeable_ranks=ranks,
        special_tokens={},
    )


@functools.lru_cache(maxsize=200_000)
def count(text: str) -> int:
    return len(oracle_encoding().encode_ordinary(text))


# ---------------------------------------------------------------------------------------------
# Comparison


def split_reasons(doc: dict) -> tuple[dict, int | None]:
    """The document without its drop reasons, and how many reasons it had."""
    doc = json.loads(json.dumps(doc))
    (kind,) = doc
    stats = doc[kind]
    if kind == "distillationDataStats":
        stats = stats.get("trainingDatasetStats", {})
    reasons = stats.pop("droppedExampleReasons", None)
    if reasons is not None:
        assert all(isinstance(r, str) and r for r in reasons), reasons
    return doc, None if reasons is None else len(reasons)


def diff(engine, oracle, path: str = "") -> list[str]:
    """Field-by-field differences, exact (types included: "5" != 5, 5 == 5.0 only for numbers)."""
    out = []
    if isinstance(engine, dict) and isinstance(oracle, dict):
        for key in sorted(set(engine) | set(oracle)):
            where = f"{path}.{key}" if path else key
            if key not in engine:
                out.append(f"{where}: missing in engine (oracle {oracle[key]!r:.200})")
            elif key not in oracle:
                out.append(f"{where}: engine has {engine[key]!r:.200}, oracle leaves it out")
            else:
                out.extend(diff(engine[key], oracle[key], where))
    elif isinstance(engine, list) and isinstance(oracle, list):
        if len(engine) != len(oracle):
            out.append(f"{path}: length {len(engine)} (engine) != {len(oracle)} (oracle)")
        for i, (e, o) in enumerate(zip(engine, oracle)):
            out.extend(diff(e, o, f"{path}[{i}]"))
    else:
        same_kind = (isinstance(engine, str) and isinstance(oracle, str)) or (
            isinstance(engine, (int, float))
            and isinstance(oracle, (int, float))
            and not isinstance(engine, bool)
        )
        if not same_kind or engine != oracle:
            out.append(f"{path}: engine {engine!r:.300} != oracle {oracle!r:.300}")
    return out


def engine_compute(case: gen_cases.Case):
    return tunestats.compute(
        str(case.path),
        tokenizer="cl100k_base",
        task=case.task,
        format=case.fmt,
        max_tokens_per_example=case.limit,
        epochs=case.epochs,
        batch_size=case.batch_size,
        media="skip",  # the cases' media objects do not exist (tests/support/oracle.py)
    )


def check_case(case: gen_cases.Case) -> None:
    run = oracle_run(
        case.path,
        count=count,
        task=case.task,
        fmt=case.fmt,
        limit=case.limit if case.limit is not None else 131072,
        epochs=case.epochs,
        batch_size=case.batch_size,
    )
    stats = engine_compute(case)
    engine_doc, engine_reasons = split_reasons(stats.to_dict())
    oracle_doc, oracle_reasons = split_reasons(run.doc)
    problems = diff(engine_doc, oracle_doc)
    if engine_reasons != oracle_reasons:
        problems.append(f"droppedExampleReasons: {engine_reasons} (engine) != {oracle_reasons}")
    t = stats.training
    accounting = (t.lines, t.kept, t.dropped, t.blank)
    expected = (run.lines, run.kept, run.dropped, run.blank)
    if accounting != expected:
        problems.append(f"(lines, kept, dropped, blank): engine {accounting} != oracle {expected}")
    if problems:
        dropped = ", ".join(f"{n}" for n, _ in run.dropped_lines[:40])
        pytest.fail(
            f"{case.name} ({case.path.name}, format {run.format}, task {case.task}, "
            f"limit {case.limit}): {len(problems)} difference(s)\n  "
            + "\n  ".join(problems[:40])
            + f"\n  oracle dropped lines: {dropped}",
            pytrace=False,
        )


# ---------------------------------------------------------------------------------------------
# Cases


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("oracle_cases")


RANDOM_SEEDS = range(60)
SLOW_SEEDS = range(60, 400)


def _cases_by_name(directory: Path, kind: str) -> dict:
    if kind == "special":
        cases = gen_cases.special_cases(directory)
    elif kind == "errors":
        cases = gen_cases.source_error_cases(directory)
    else:
        raise ValueError(kind)
    return {c.name: c for c in cases}


def _special_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return [c.name for c in gen_cases.special_cases(Path(d))]


SPECIAL_NAMES = _special_names()
ERROR_NAMES = [name for name, _ in gen_cases.SOURCE_ERRORS] + ["not-really-gzip", "missing-file"]


@pytest.fixture(scope="module")
def special(case_dir) -> dict:
    return _cases_by_name(case_dir, "special")


# Known differences between the engine and the oracle, by case name. strict=True: when either
# side changes so that they agree, the test XPASSes and fails, and the entry must go.
_BUG = "engine differs from the letter of SPEC/CHOICES: "
_AMBIGUOUS = "SPEC/CHOICES silent, engine and oracle read it differently: "
KNOWN_DIFFERENCES: dict[str, str] = {}


def _with_known(names: list[str]) -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_DIFFERENCES[n], strict=True))
        if n in KNOWN_DIFFERENCES
        else n
        for n in names
    ]


@pytest.mark.parametrize("name", _with_known(SPECIAL_NAMES))
def test_special_case(special, name):
    check_case(special[name])


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_case(case_dir, seed):
    (case,) = gen_cases.random_cases(case_dir, range(seed, seed + 1))
    check_case(case)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_random_case_slow(case_dir, seed):
    (case,) = gen_cases.random_cases(case_dir, range(seed, seed + 1), n=150)
    check_case(case)


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_source_error(case_dir, name):
    case = _cases_by_name(case_dir, "errors")[name]
    with pytest.raises(OracleSourceError):
        oracle_run(case.path, count=count)
    with pytest.raises(Exception) as info:  # noqa: B017 - any error, as long as there is no report
        engine_compute(case)
    assert isinstance(info.value, (tunestats.SourceError, OSError, ValueError)), info.value


CORPUS_FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("**/*.jsonl"))


@pytest.mark.parametrize("task", ["supervised", "distillation"])
@pytest.mark.parametrize("rel", CORPUS_FILES)
def test_corpus(case_dir, rel, task):
    path = CORPUS / rel
    if path.stat().st_size > 600_000 and task == "distillation":
        pytest.skip("large file: the supervised run covers it")
    check_case(gen_cases.Case(f"corpus:{rel}", path, task=task))


@pytest.mark.slow
@pytest.mark.parametrize("rel", CORPUS_FILES)
def test_corpus_small_limit(rel):
    check_case(
        gen_cases.Case(f"corpus:{rel}:limit", CORPUS / rel, limit=300, epochs=2, batch_size=3)
    )


@pytest.mark.slow
def test_inline_data_20mb(case_dir):
    """inlineData of exactly 20,000,000 decoded bytes is kept; one byte more is dropped."""
    lines = []
    for size in (20_000_000, 20_000_001):
        data = base64.b64encode(b"\x00" * size).decode()
        rec = {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": data}}],
                },
                {"role": "model", "parts": [{"text": "ok"}]},
            ]
        }
        lines.append(json.dumps(rec).encode())
    path = gen_cases.write_lines(case_dir / "inline-20mb.jsonl", lines)
    check_case(gen_cases.Case("inline-20mb", path))


def test_oracle_selfcheck(case_dir):
    """The oracle itself: accounting adds up and the examples in SPEC hold."""
    assert buckets_of(list(range(25, 129)))[0][1:] == (25, 42)
    lefts = [b[1] for b in buckets_of([25, 128, 43, 60, 77, 95, 112])]
    assert lefts == [25, 43, 60, 77, 95, 112]  # the published 90-image job
    d = distribution([270] * 90, distill=False, billable=True)
    assert d["buckets"] == [{"count": 90.0, "left": 270.0, "right": 270.0}]
    assert d["sum"] == "24300" and d["billableSum"] == "24300"
    assert distribution([1, 2, 3, 4], distill=False, billable=False)["median"] == 2.0
    for case in gen_cases.random_cases(case_dir, range(5)):
        run = oracle_run(case.path, count=count, task=case.task, fmt=case.fmt)
        assert run.lines == run.kept + run.dropped + run.blank
