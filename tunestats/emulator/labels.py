"""Labels: how exact a job's token counts are, on the job itself, where any client can read it.

Every job the emulator creates (``create`` and ``rebaseTunedModel``) gets two labels, from the
moment it is created, so the first reply and every GET, list and filter show them:

- ``tunestats-tokenizer``: the tokenizer that counts the job's datasets, by its short name:
  ``gemma3`` (Gemini 2.x, Gemma 3), ``gemma4`` (Gemini 3.5 Flash, 3.1 Flash-Lite), ``gemma2``
  (Gemini 1.x, Gemma 2) for the SentencePiece models shipped with tunestats; ``llama3`` and
  ``qwen3`` for the open models' files of the ``open-models`` extra; ``cl100k_base`` or
  ``o200k_base``; ``hf`` for a Hugging Face ``tokenizer.json``; ``sentencepiece`` for a
  SentencePiece file that is none of Gemini's.
- ``tunestats-exact-token-counts``: ``true`` when that tokenizer is the base model's own (for a
  Gemini model its token counts are the ones Vertex would report; for an open model, its text
  tokens, chat-template tokens not counted), else ``false``: a Gemini model counted with
  ``--tokenizer cl100k_base``, Llama or Qwen without the ``open-models`` extra, any model with
  ``--tokenizer hf:PATH`` (tunestats cannot check that the file is the model's own).

Both follow from the emulator's ``--tokenizer`` / ``--tokenizer-model`` and the job's base
model (the student of a distillation job, the base of a ``preTunedModel``), resolved exactly as
the count of the datasets resolves them (``tunestats.config.plan.make_plan``).

Labels, because Google's clients parse replies with their protos and drop a field the protos
do not declare, while every client reads labels back (``job.labels``) and list filters select
on them (``labels.tunestats-exact-token-counts=false``). The user's labels come first and are
never changed or removed: they are validated alone (ours do not count against the limit of
64), and a key the user set keeps the user's value, ours is then not written. The stored job
remembers which labels the emulator added (a hidden field, never in a reply), so
``rebaseTunedModel`` copies only the user's labels and the new job gets labels of its own.
"""

from __future__ import annotations

import re
import threading
from typing import Any

TOKENIZER_LABEL = "tunestats-tokenizer"
EXACT_LABEL = "tunestats-exact-token-counts"
# Added when the datasets are counted and hold media parts (SPEC §9): "documented-rates" (every
# media part measured, its tokens at Google's documented rates: an estimate), or "incomplete"
# (some parts could not be read or measured, and count no tokens).
MEDIA_LABEL = "tunestats-media-tokens"
# Hidden field of a stored document: the label keys the emulator added (replies drop it).
ADDED_LABELS = "_addedLabels"
MAX_VALUE = 63  # Vertex's label rules


def tokenizer_label(name: str) -> str:
    """A tokenizer's name (``Stats.tokenizer``) as a label value: its short name
    (``tokenizers.short_name``), without a path."""
    from ..tokenizers import short_name

    # A label value holds at most 63 of [a-z0-9_-]: for a name with a path (hf:PATH,
    # sentencepiece:PATH) only its kind, and any other character as "_".
    kind = short_name(name).partition(":")[0]
    return re.sub(r"[^a-z0-9_-]", "_", kind.lower())[:MAX_VALUE]


class TokenizerLabels:
    """The labels of a job by its base model, for one emulator's tokenizer options."""

    def __init__(self, tokenizer: str | None, tokenizer_model: str | None) -> None:
        self.tokenizer, self.tokenizer_model = tokenizer, tokenizer_model
        self._by_model: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Resolve the options for the default model: a bad option fails here, not per job."""
        self.for_model(None)

    def for_model(self, model: str | None) -> dict[str, str]:
        from ..config.options import Options
        from ..config.plan import make_plan
        from ..config.profiles import get_profile

        name = get_profile(model).name
        with self._lock:
            labels = self._by_model.get(name)
            if labels is None:
                options = Options(
                    model=name,
                    tokenizer=self.tokenizer,
                    tokenizer_model=self.tokenizer_model,
                    memo=False,
                )
                choice = make_plan(options).choice
                labels = {
                    TOKENIZER_LABEL: tokenizer_label(choice.tokenizer.name),
                    EXACT_LABEL: "true" if choice.exact else "false",
                }
                self._by_model[name] = labels
        return dict(labels)


def add_labels(job: dict[str, Any], ours: dict[str, str]) -> dict[str, Any]:
    """The job (canonical form) with our labels after the user's, and which ones were added."""
    user = job.get("labels", {})
    added = {key: value for key, value in ours.items() if key not in user}
    if not added:
        return job
    return {**job, "labels": {**user, **added}, ADDED_LABELS: [*job.get(ADDED_LABELS, []), *added]}


def user_labels_only(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document without the labels the emulator added (for a copy of the job)."""
    added = doc.get(ADDED_LABELS, [])
    labels = {k: v for k, v in doc.get("labels", {}).items() if k not in added}
    out = {k: v for k, v in doc.items() if k not in ("labels", ADDED_LABELS)}
    if labels:
        out["labels"] = labels
    return out
