"""Make docs/report.png, the README's picture of the HTML report (needs the html and test
extras and a Chromium: ``python docs/make_screenshot.py``)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import CHROMIUM_ARGS, find_chromium  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "report.html"
        example = "fixtures/example.jsonl"  # as a user in the project would name it
        command = [sys.executable, "-m", "tunestats.cli", "stats", example, "--quiet"]
        command += ["--model", "gemini-1.5-flash-002", "--epochs", "3", "--html", str(page_path)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(page_path.as_uri())
            page.screenshot(path=str(ROOT / "docs" / "report.png"))
            browser.close()


if __name__ == "__main__":
    main()
