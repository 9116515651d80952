"""The job's verdict: what Vertex would report, accept and charge for a source's statistics.

Takes an Accumulator's :class:`~tunestats.counting.accumulate.DatasetResult` and the Plan;
hands to ``present`` and the callers a :class:`~tunestats.job.results.Stats`.

- ``readiness``: SPEC §8's rules: would Vertex run this job, and what it warns about.
- ``cost``: the billable tokens priced (list prices or ``--price-per-million``).
- ``document``: the ``tuningDataStats`` document, shaped as Vertex returns it.
- ``results``: :class:`~tunestats.job.results.SourceStats` and ``Stats``, a run's whole answer.
"""
