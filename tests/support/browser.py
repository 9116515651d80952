"""A real browser for the tests: the system Chromium, driven by Playwright's Python package.

Never a downloaded browser: Playwright is only the driver, and the Chromium is the one the
system installed (``/usr/bin/chromium``, ``chromium`` on PATH, or ``TUNESTATS_CHROMIUM``).
``.ci/run`` installs it. Locally a missing Chromium or Playwright skips the browser tests with
the reason; with ``CI=1`` it fails them, so CI cannot pass by skipping.

:func:`open_file` opens a local file and records what the page did: console messages, page
errors, dialogs, and every request for anything but the file itself (requests leaving
``file://`` are aborted too, so a test never reaches the network).

Use the fixture by importing it into a test module: ``from tests.support.browser import
browser``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-extensions",
    # Loopback only (tests/conftest.py): Chromium resolves no name (its own resolver would ask
    # a DNS server, and probe IPv6 reachability against a public address) and would send any
    # request for the network to a closed local port; the pages are files.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
    "--dns-prefetch-disable",
    "--no-pings",
]
TIMEOUT_MS = 10_000  # a local page either shows in well under a second or something is wrong


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI (a browser test that does not run proves nothing)."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """The system Chromium: ``TUNESTATS_CHROMIUM``, else /usr/bin/chromium, else on PATH."""
    named = os.environ.get("TUNESTATS_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Visit:
    """One page opened by :func:`open_file`, and what it did so far."""

    page: Any  # playwright.sync_api.Page
    url: str
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL but the file's own
    dialogs: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    def assert_clean(self) -> None:
        """Nothing logged as an error, nothing thrown, nothing fetched, no dialog."""
        assert self.console_errors == []
        assert self.page_errors == []
        assert self.requests == []
        assert self.dialogs == []


@contextmanager
def open_file(
    browser: Any,
    path: Path,
    *,
    javascript: bool = True,
    viewport: tuple[int, int] = (1280, 900),
) -> Iterator[Visit]:
    """Open a local file in a new context (JavaScript on or off) and record what it does."""
    url = path.resolve().as_uri()
    context = browser.new_context(
        java_script_enabled=javascript,
        viewport={"width": viewport[0], "height": viewport[1]},
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        visit = Visit(page=page, url=url)
        page.on("console", lambda message: visit.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: visit.page_errors.append(str(error)))

        def on_dialog(dialog: Any) -> None:
            visit.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

        # The request event sees every request (file:// ones too, which routes may not);
        # the route aborts whatever would leave the machine.
        def on_request(request: Any) -> None:
            if request.url != url:
                visit.requests.append(request.url)

        page.on("request", on_request)

        def route(route: Any) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", route)
        page.goto(url, wait_until="load")
        yield visit
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The system Chromium, one per test module.

    Not one per session: while Playwright's sync API runs, its event loop counts as running in
    the main thread, so ``asyncio.run()`` in any later test module would fail.
    """
    executable = find_chromium()
    if executable is None:
        unavailable("no system Chromium (install the chromium package, or set TUNESTATS_CHROMIUM)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("Playwright's Python package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000
            )
        except Error as error:
            unavailable(f"{executable} does not start under Playwright: {error.message}")
        try:
            yield instance
        finally:
            instance.close()
