"""Reading a tokenizer file (``--tokenizer-model FILE``, ``--tokenizer hf:FILE``).

Through the io stage's opener, so a ``gs://`` file gets the same credentials, endpoint and
checks as a dataset; its error, worded by the io stage, is handed on as a TokenizerError that
names the file once.
"""

from __future__ import annotations

from ..io.files import SourceError
from ..io.sources import open_binary
from .protocol import TokenizerError


def read_tokenizer_file(uri: str) -> bytes:
    """The whole file's bytes; TokenizerError when it cannot be read."""
    try:
        with open_binary(uri) as f:
            return f.read()
    except (SourceError, OSError, ValueError) as exc:
        why = str(exc)
        why = why[len(uri) + 2 :] if why.startswith(f"{uri}: ") else why  # the URI once
        raise TokenizerError(f"{uri}: cannot read tokenizer file: {why}") from exc
