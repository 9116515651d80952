"""Plan: a run's options resolved against the model table and the installed tokenizers.

Takes :class:`~tunestats.config.options.Options`; hands to counting and everything after it a
:class:`Plan`: the options, the model's profile, the chosen tokenizer (behind its memo) and the
media stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..media import MediaStage, generation
from ..tokenizers import MemoCounter, Tokenizer, TokenizerChoice, choose_tokenizer
from .options import Options
from .profiles import ModelProfile, get_profile


@dataclass(frozen=True)
class Plan:
    """Options resolved against the model table and the installed tokenizers."""

    options: Options
    profile: ModelProfile
    choice: TokenizerChoice
    counter: Tokenizer  # the chosen tokenizer, behind a memo unless options.memo is off
    media: MediaStage  # SPEC §9 for this run's model: reads each media object once

    @property
    def distill(self) -> bool:
        return self.options.task == "distillation"

    @property
    def limit(self) -> int:
        return self.profile.max_tokens_per_example

    @property
    def processes(self) -> int:
        """Processes for one source: ``--jobs``, else one when the tokenizer counts on
        threads of its own (on 2 cores within 10% of two processes, with half the memory:
        one copy of the model; README, "Performance"), else one per core."""
        if self.options.jobs:
            return self.options.jobs
        return 1 if getattr(self.choice.tokenizer, "threaded", False) else os.cpu_count() or 1


def make_plan(options: Options) -> Plan:
    """Check ``options`` and resolve them: the model's profile, the tokenizer, the media stage."""
    options.check()
    profile = get_profile(options.model, options.max_tokens_per_example)
    choice = choose_tokenizer(
        options.tokenizer, options.tokenizer_model, profile.tokenizer, profile.name
    )
    counter = MemoCounter(choice.tokenizer) if options.memo else choice.tokenizer
    media = MediaStage(
        options.media,
        generation(profile.family, profile.name),
        options.media_access,
        options.media_timeout,
    )
    return Plan(options, profile, choice, counter, media)
