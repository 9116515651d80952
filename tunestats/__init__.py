"""tunestats: the tuningDataStats that Vertex AI reports for a tuning dataset, exact and fast.

>>> import tunestats
>>> stats = tunestats.compute("train.jsonl", tokenizer="cl100k_base")   # doctest: +SKIP
>>> stats.to_dict()["supervisedTuningDataStats"]["tuningDatasetExampleCount"]   # doctest: +SKIP

The stages, each its own module: source -> formats -> tokenizers -> accumulate -> report;
pipeline wires them together and cli is the command line.
"""

from .accumulate import Accumulator, DatasetResult, Distribution, ValueCounts
from .pipeline import Options, SourceStats, Stats, compute
from .source import SourceError

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
