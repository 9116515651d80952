"""Running: one source, or a training and a validation source, from name to Stats.

Takes a source's name and the options; hands to the callers (the public API, the command line,
the emulator) a :class:`~tunestats.job.results.Stats`.

- ``pipeline``: :func:`~tunestats.run.pipeline.compute`: detect the format, count the source
  (split into ranges when it is large), check it is usable, write its kept and dropped lines.
- ``pool``: the worker processes (one kind of pool, one initializer) for ``stats --jobs`` and
  ``batch``.
- ``exits``: the exit codes of ``tunestats`` and ``python -m tunestats.beam``.
"""
