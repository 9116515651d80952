"""What a run is asked to do: the option table, the models, and the Plan that resolves them.

Takes the options a user gives (the command line, the Python API, a Beam pipeline or an
emulator job); hands to ``counting`` and every later stage a :class:`~tunestats.config.plan.Plan`.

- ``options``: :class:`~tunestats.config.options.Options`, the one table of options (each
  field's help and whether it changes the statistics).
- ``profiles``: what each model accepts (format, limits, tokenizer, media rules).
- ``plan``: :func:`~tunestats.config.plan.make_plan` checks the options and resolves them: the
  model's profile, the tokenizer (behind its memo), the media stage.
- ``arguments``: the command-line options built from the table (``stats``, ``batch``, Beam).
"""
