"""Fixtures the emulator's test modules share (their plain helpers are in helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def local(tmp_path):
    """An emulator that takes local paths (jobs stay PENDING)."""
    pytest.importorskip("starlette")
    from tests.emulator.helpers import local_emulator

    with local_emulator(tmp_path / "state") as emulator:
        yield emulator
