"""Counting: blocks of lines to exact, mergeable statistics.

Takes line blocks (``io``) and a Plan (``config``); parses them with ``formats``, measures
media with ``media`` and counts texts with the Plan's tokenizer. Hands on an
:class:`~tunestats.counting.accumulate.Accumulator` per source or byte range.

- ``blocks``: one block of lines parsed, counted and accumulated (counting overlaps parsing).
- ``accumulate``: the Accumulator, whose fields say how they merge, and the results it gives
  (:class:`~tunestats.counting.accumulate.DatasetResult`, distributions).
- ``ranges``: one byte range counted, the unit of work of every engine, and
  :class:`~tunestats.counting.ranges.Failure`.
- ``combine``: the one protocol that joins ranges in file order (create, add, merge, extract).
"""
