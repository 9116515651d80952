"""Pairs: the formats of one input and one output string, palm and prompt-completion (SPEC §1).

One constructor makes both from their two keys: the rules (both strings; in distillation the
output may be missing), the sample, the Arrow schema of the two strings and its checks.

Hands to the registry (the package) :func:`palm` and :func:`prompt_completion`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from .arrow import _col, _Columns, _mask, _valid
from .common import Example, _Builder, _content, _string
from .format import Format


def palm() -> Format:
    """palm: ``input_text`` and ``output_text``."""
    return _pair_format("palm", "input_text", "output_text")


def prompt_completion() -> Format:
    """prompt-completion: ``prompt`` and ``completion``."""
    return _pair_format("prompt-completion", "prompt", "completion")


def _pair_format(name: str, input_key: str, output_key: str) -> Format:
    return Format(
        name=name,
        signature=(input_key, output_key),
        expects="a string",
        normalize=_pair(input_key, output_key),
        sample=_pair_sample(input_key, output_key),
        arrow_schema=_pair_schema(input_key, output_key),
        arrow_checks=partial(_pair_arrow, input_key=input_key, output_key=output_key),
    )


def _pair(input_key: str, output_key: str) -> Callable[[dict[str, Any], int, bool], Example]:
    def normalize(record: dict[str, Any], line: int, distill: bool) -> Example:
        out = _Builder()
        out.text(_string(record.get(input_key), input_key), False)
        if not (distill and record.get(output_key) is None):
            out.text(_string(record.get(output_key), output_key), not distill)
        out.messages = 2  # SPEC §2 [O], also for a prompt-only record in distillation
        return out.build(line, record)

    return normalize


def _pair_sample(input_key: str, output_key: str) -> Callable[[dict[str, Any]], list[dict]]:
    def sample(record: dict[str, Any]) -> list[dict[str, Any]]:
        result = [_content("user", record[input_key])]
        if record.get(output_key) is not None:
            result.append(_content("model", record[output_key]))
        return result

    return sample


def _pair_schema(input_key: str, output_key: str) -> Callable[[Any], Any]:
    def schema(pa: Any) -> Any:
        return pa.schema([(input_key, pa.string()), (output_key, pa.string())])

    return schema


def _pair_arrow(table: Any, cols: _Columns, distill: bool, input_key: str, output_key: str) -> None:
    rows = np.arange(cols.rows)
    cols.messages = np.full(cols.rows, 2, dtype=np.int64)
    cols.add(_col(table, input_key), rows, False)
    out = _col(table, output_key)
    if distill:  # the output may be missing in distillation
        present = _valid(out)
        cols.add(out.filter(_mask(present)), rows[present], False)
    else:
        cols.add(out, rows, True)
