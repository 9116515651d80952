"""Llama 3.x (3.1, 3.2, 3.3): Meta's tiktoken BPE, from the ``llama-models`` package.

The file is ``llama_models/llama3/tokenizer.model`` of ``llama-models`` (0.3.0 checked; the
``open-models`` extra installs it), byte-identical to ``original/tokenizer.model`` of Meta's
Llama 3.1 and 3.2 repositories (sha256 below). It is read, never imported, and never copied
into tunestats: it is a Llama Material under the Llama 3.x Community License, whose terms bind
whoever redistributes it (CHOICES.md, "Open models' tokenizers").

The split pattern, the 256 special tokens and the splitting of long texts are those of Meta's
``llama_models/llama3/tokenizer.py``; a text is counted as Meta's ``Tokenizer.encode(text,
bos=False, eos=False)`` counts it, special-token strings as ordinary text. Hands on
:data:`LLAMA3` for :class:`~tunestats.tokenizers.bpe.PackagedBPE`.
"""

from __future__ import annotations

from collections.abc import Iterator

from .bpe import BPEFile

# Meta's pattern (llama_models/llama3/tokenizer.py, Tokenizer.pat_str).
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_NAMED = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|step_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
)
SPECIAL_TOKENS = _NAMED + tuple(
    f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(_NAMED))
)

# Meta encodes a text in pieces: 400,000 code points at most (what tiktoken handles without a
# panic), each cut so that no run of whitespace or of non-whitespace exceeds 25,000.
MAX_ENCODE_CHARS = 400_000
MAX_RUN_CHARS = 25_000


def pieces(text: str) -> Iterator[str]:
    """The pieces Meta's ``Tokenizer.encode`` encodes one by one (their tokens add up)."""
    if len(text) <= MAX_RUN_CHARS:  # no run can be longer: one piece, without the scan
        yield text
        return
    for start in range(0, len(text), MAX_ENCODE_CHARS):
        yield from _split_runs(text[start : start + MAX_ENCODE_CHARS])


def _split_runs(s: str) -> Iterator[str]:
    """Meta's ``_split_whitespaces_or_nonwhitespaces(s, MAX_RUN_CHARS)``, step for step."""
    run = 0
    is_space = s[0].isspace() if s else False
    begin = 0
    for i, char in enumerate(s):
        now_space = char.isspace()
        if is_space ^ now_space:
            run = 1
            is_space = now_space
        else:
            run += 1
            if run > MAX_RUN_CHARS:
                yield s[begin:i]
                begin = i
                run = 1
    yield s[begin:]


LLAMA3 = BPEFile(
    key="llama3",
    title="Llama 3",
    places=(("llama-models", "llama_models/llama3/tokenizer.model"),),
    sha256="82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55",
    pattern=PATTERN,
    special_tokens=SPECIAL_TOKENS,
    prepare=pieces,
)
