"""tunestats: the tuningDataStats that Vertex AI reports for a tuning dataset, exact and fast.

>>> import tunestats
>>> stats = tunestats.compute("train.jsonl", tokenizer="cl100k_base")   # doctest: +SKIP
>>> stats.to_dict()["supervisedTuningDataStats"]["tuningDatasetExampleCount"]   # doctest: +SKIP

The stages, each its own module, in the order data flows: source -> formats -> counting
(tokenizers) -> accumulate -> combine -> results / report; options holds what a run is told,
pipeline wires the stages together (parallel for byte ranges), and cli is the command line.
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
