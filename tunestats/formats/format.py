"""Format: everything one dataset format says about itself, as one record (SPEC §1).

The keys that mark a record as the format, how a record is validated and normalized to an
:class:`Example`, its userDatasetExamples sample, and its Arrow schema and vector checks. Each
format module (gemini, messages, pairs) has one constructor per format that fills one in.

Hands to the registry (the package's ``REGISTRY``) the type of its entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .arrow import _Columns
from .common import Example


@dataclass(frozen=True)
class Format:
    """One format: per-line rules and the Arrow path's, side by side."""

    name: str
    signature: tuple[str, ...]  # the keys that mark a record as this format
    expects: str  # what a signature key holds ("is null; expected ...")
    normalize: Callable[[dict[str, Any], int, bool], Example]  # record, line, distill
    sample: Callable[[dict[str, Any]], list[dict[str, Any]]]  # record -> Gemini Contents
    arrow_schema: Callable[[Any], Any]  # pyarrow -> the schema of the plain, text-only shape
    arrow_checks: Callable[[Any, _Columns, bool], None]  # table, columns to fill in, distill
