"""google-genai's ``LocalTokenizer`` as a reference for tunestats' Gemini counts (tests only).

- :func:`load_local_tokenizer`: a ``LocalTokenizer(model_name="gemini-2.5-flash")`` built
  offline, its model read from a private ``vertexai_tokenizer_model`` cache that this module
  seeds with tunestats' shipped file (``shared/tokenizers/PROVENANCE.md``).
- :func:`reference_counts`: (input, output) tokens of one Gemini record, counted by
  ``LocalTokenizer.count_tokens`` with SPEC §2's split: what the model writes (text and
  ``functionCall`` parts of ``model`` turns) is output; everything else (system instruction,
  ``tools``, user turns, ``functionResponse`` parts wherever they are) is input.
- :func:`tunestats_counts`: the same two numbers from tunestats' own parser and tokenizer.
- :func:`messages_to_gemini`: a ``gemini-messages`` record as the Gemini record it stands for.

google-genai is imported lazily: importing this module needs neither it nor sentencepiece's
protobuf module.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest

from tunestats.formats import Drop, Example, parse_example
from tunestats.tokenizers import GEMINI_TOKENIZER_MODELS, GeminiTokenizer, shipped_model_bytes

IMAGE_TOKENS = 258  # SPEC §2 [D]

# What the model writes in a ``model`` turn (SPEC §2); every other part is read.
WRITTEN_KINDS = ("text", "functionCall")
_PART_KINDS = {
    "text": "text",
    "inlineData": "inlineData",
    "inline_data": "inlineData",
    "fileData": "fileData",
    "file_data": "fileData",
    "functionCall": "functionCall",
    "function_call": "functionCall",
    "functionResponse": "functionResponse",
    "function_response": "functionResponse",
}


def genai_cache_path(tmpdir: Path | str, key: str = "gemma3") -> Path:
    """Where google-genai caches the model of ``key`` when ``tempfile.gettempdir()`` is tmpdir."""
    url = GEMINI_TOKENIZER_MODELS[key].url
    return Path(tmpdir) / "vertexai_tokenizer_model" / hashlib.sha1(url.encode()).hexdigest()


def import_local_tokenizer() -> Any:
    """google-genai's ``local_tokenizer`` module, or a pytest skip that says why it is missing.

    ``local_tokenizer`` imports ``sentencepiece.sentencepiece_model_pb2``; sentencepiece
    0.2.3 generated that module for protobuf 7, and with Apache Beam's protobuf 6 pin the
    import fails (protobuf raises its own ``VersionError``, not an ImportError), so this is
    a wider net than ``pytest.importorskip``.
    """
    try:
        from google.genai import local_tokenizer
    except Exception as exc:
        pytest.skip(
            f"google-genai's LocalTokenizer cannot be imported ({type(exc).__name__}: {exc}); "
            "the reference comparisons need the test extra (google-genai with "
            "sentencepiece<0.2.3, whose sentencepiece_model_pb2 imports with protobuf 6)"
        )
    return local_tokenizer


def _no_download(url: str) -> bytes:
    raise AssertionError(f"google-genai tried to download {url}: the seeded cache was not used")


def load_local_tokenizer(private_tmp: Path) -> Any:
    """``LocalTokenizer("gemini-2.5-flash")`` loaded from a cache seeded in ``private_tmp``.

    google-genai looks for the model at ``tempfile.gettempdir()/vertexai_tokenizer_model/
    <sha1 of the URL>`` (sha256 checked) and would download it otherwise; downloading is made
    to fail, so the model must come from the seeded copy. Its loader is ``lru_cache``d per
    process, so once built the tokenizer no longer depends on the temporary directory.
    """
    local_tokenizer = import_local_tokenizer()
    from google.genai import _local_tokenizer_loader as loader

    cache = genai_cache_path(private_tmp)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(shipped_model_bytes("gemma3"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(private_tmp))
        mp.setenv("TMPDIR", str(private_tmp))
        mp.setattr(loader, "_load_file", _no_download, raising=False)
        tokenizer = local_tokenizer.LocalTokenizer(model_name="gemini-2.5-flash")
        tokenizer.count_tokens("warm up")  # loads nothing more, but fail here if it would
    return tokenizer


def _kind(part: dict[str, Any]) -> str:
    kinds = [_PART_KINDS[k] for k, v in part.items() if k in _PART_KINDS and v is not None]
    assert len(kinds) == 1, f"not a valid part: {part}"
    return kinds[0]


def _count(tokenizer: Any, contents: list[Any], config: dict[str, Any] | None) -> int:
    from google.genai import types

    if not contents and not config:
        return 0
    if not contents:  # count_tokens refuses an empty list; an empty Content counts nothing
        contents = [types.Content(role="user", parts=[])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The SDK's local tokenizer ... is experimental"
        result = tokenizer.count_tokens(
            contents, config=types.CountTokensConfig.model_validate(config or {})
        )
    return int(result.total_tokens or 0)


def reference_counts(tokenizer: Any, record: dict[str, Any]) -> tuple[int, int]:
    """(input, output) tokens of a Gemini record, as google-genai's LocalTokenizer counts them.

    Each turn is split in two Contents (same role): its model-written parts and the rest;
    ``count_tokens`` on the written ones gives the output tokens, on the rest with
    ``config={"system_instruction": ..., "tools": ...}`` the input tokens. The records are
    validated by google-genai's own pydantic types (which forbid unknown fields).
    """
    from google.genai import types

    read: list[Any] = []
    written: list[Any] = []
    for content in record["contents"]:
        role = content.get("role") or "user"  # SPEC §4 [D]: unset only in a single turn
        parts = content["parts"]
        mine = [p for p in parts if role == "model" and _kind(p) in WRITTEN_KINDS]
        rest = [p for p in parts if not (role == "model" and _kind(p) in WRITTEN_KINDS)]
        if mine:
            written.append(types.Content.model_validate({"role": role, "parts": mine}))
        if rest:
            read.append(types.Content.model_validate({"role": role, "parts": rest}))
    config: dict[str, Any] = {}
    system = record.get("systemInstruction", record.get("system_instruction"))
    if system is not None:
        config["system_instruction"] = types.Content.model_validate(system)
    if record.get("tools"):
        config["tools"] = record["tools"]
    return _count(tokenizer, read, config), _count(tokenizer, written, None)


def messages_to_gemini(record: dict[str, Any]) -> dict[str, Any]:
    """A gemini-messages record as Gemini: a leading system message is the system instruction."""
    messages = list(record["messages"])
    result: dict[str, Any] = {}
    if messages and messages[0].get("role") == "system":
        result["systemInstruction"] = {"parts": [{"text": messages.pop(0)["content"]}]}
    result["contents"] = [
        {"role": m.get("role") or "user", "parts": [{"text": m["content"]}]} for m in messages
    ]
    return result


def tunestats_counts(raw: bytes, line: int, fmt: str) -> tuple[int, int] | Drop:
    """(input, output) tokens of one line by tunestats' parser and Gemini 2.x tokenizer."""
    example = parse_example(raw, line, fmt, distill=False)
    if isinstance(example, Drop):
        return example
    assert isinstance(example, Example)
    tokenizer = GeminiTokenizer("gemma3")
    inputs = int(tokenizer.count(example.inputs).sum()) + IMAGE_TOKENS * example.images
    return inputs, int(tokenizer.count(example.outputs).sum())
