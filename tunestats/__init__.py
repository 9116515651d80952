"""tunestats: the tuningDataStats that Vertex AI reports for a tuning dataset, exact and fast.

>>> import tunestats
>>> stats = tunestats.compute("train.jsonl", tokenizer="cl100k_base")   # doctest: +SKIP
>>> stats.to_dict()["supervisedTuningDataStats"]["tuningDatasetExampleCount"]   # doctest: +SKIP

The stages, one package each, in the order data flows: io -> formats -> media -> tokenizers ->
config (the Plan) -> counting -> job -> present -> run (compute); then batch, beam, emulator
and cli use this API (README, "Layout").
"""

from .config.options import Options
from .counting.accumulate import Accumulator, DatasetResult, Distribution, ValueCounts
from .io.files import SourceError
from .job.results import SourceStats, Stats
from .run.pipeline import compute

__all__ = [
    "Accumulator",
    "DatasetResult",
    "Distribution",
    "Options",
    "SourceError",
    "SourceStats",
    "Stats",
    "ValueCounts",
    "compute",
]
