"""Exit codes: what ``tunestats`` and ``python -m tunestats.beam`` return, one table for both."""

EXIT_OK = 0
EXIT_FAILED = 1  # a source, or a dataset of a batch, could not be counted or has no valid example
EXIT_USAGE = 2  # bad options: nothing was counted
EXIT_STRICT = 3  # --strict: Vertex would reject the job
# 128 + the signal's number, as a shell reports a process that the signal ended.
EXIT_SIGINT, EXIT_SIGPIPE = 130, 141
