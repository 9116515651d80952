"""Service: what every handler of the emulator's API takes, and the conventions they share.

``server`` builds one :class:`Service` (store, schedule, options); ``app`` passes it, with the
API version, the path's parameters, the JSON body and the query, to a handler of
``tuning_jobs``, ``operations`` or ``contexts``, each a :data:`Handler` that gives back the
reply as a dict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import guard
from .labels import TokenizerLabels
from .lifecycle import Schedule
from .store import Store

# handler(service, version, params, body, query) -> the reply, as JSON
Handler = Callable[..., dict]


@dataclass
class Service:
    """What the handlers share: the store, the schedule, the options of the emulator."""

    store: Store
    schedule: Schedule
    allow_local_paths: bool = False
    clock: Callable[[], int] = time.time_ns
    labels: TokenizerLabels = field(default_factory=lambda: TokenizerLabels(None, None))
    hosts: guard.HostPolicy = field(default_factory=lambda: guard.HostPolicy(guard.LOOPBACK))
    stopping: threading.Event = field(default_factory=threading.Event)  # set on shutdown


def enums_as_ints(query: dict[str, str]) -> bool:
    """Whether the client asked for enums as numbers (``$alt=json;enum-encoding=int``)."""
    return "enum-encoding=int" in query.get("$alt", "")
