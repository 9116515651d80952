"""The HTML report (tunestats.present.html): its chart geometry, and its pages in a real browser.

The page dicts are written here, from the page model, so these tests pin the rendering alone.
The browser tests open the files in the system Chromium (tests/support/browser.py) and check
the DOM contract of tunestats/present/html.py's docstring against the dicts, that nothing is
fetched, logged as an error or run, and that the pages read the same with JavaScript off.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.support.browser import browser, in_ci, open_file  # noqa: F401 (browser: the fixture)
from tests.support.oracle import figures

try:
    import jinja2
except ImportError:  # the html extra is missing: a skip locally, an error in CI
    if in_ci():
        raise
    pytest.skip("the HTML report needs: pip install -e '.[html]'", allow_module_level=True)

from tunestats.present import html  # noqa: E402

HOSTILE = "<script>alert(1)</script>"


# Page dicts, as the engine builds them (the page model: tunestats/present/html.py's docstring).


def distribution(name: str, field: str, values: list[int]) -> dict:
    """Figures and buckets of SPEC §3, worked out from the values by the reference."""
    return {"name": name, "field": field, **figures(values)}


def dataset(
    name: str,
    inputs: list[int],
    outputs: list[int] | None,
    messages: list[int],
    *,
    drops: list[dict],
    samples: list[dict],
) -> dict:
    distributions = [distribution("input tokens", "userInputTokenDistribution", inputs)]
    if outputs is not None:
        distributions.append(distribution("output tokens", "userOutputTokenDistribution", outputs))
    distributions.append(
        distribution("messages per example", "userMessagePerExampleDistribution", messages)
    )
    dropped = sum(group["count"] for group in drops)
    kept = len(inputs)
    return {
        "name": name,
        "uri": f"gs://tuning-data/{name}.jsonl",
        "format": "gemini",
        "lines": kept + dropped + 2,
        "kept": kept,
        "dropped": dropped,
        "blank": 2,
        "characters": 41_234,
        "billableCharacters": 35_678,
        "billableTokens": sum(inputs) + sum(outputs or []),
        "images": 3,
        "uncountedMedia": 0,
        "steps": 12,
        "distributions": distributions,
        "dropGroups": drops,
        "samples": samples,
    }


def drop_group(code: str, count: int, lines: list[int], reason: str = "is wrong") -> dict:
    return {
        "code": code,
        "title": f"the {code} problem",
        "hint": f"repair the {code} records",
        "count": count,
        "path": "contents[*].role" if code == "role-assistant" else None,
        "examples": [{"line": line, "reason": f"line {line}: {reason}"} for line in lines],
    }


def page_model(
    datasets: list[dict], *, ready: bool, task: str = "supervised", exact: bool = True
) -> dict:
    return {
        "title": "train.jsonl",
        "generated": "2026-12-02T01:00:00Z",
        "version": "0.1.0",
        "source": {
            "uri": datasets[0]["uri"],
            "generation": "1764637200123456",
            "mtime": None,
            "size": 1_234_567,
            "format": "gemini",
            "task": task,
            "model": "gemini-2.5-flash",
        },
        "tokenizer": {
            "name": "gemini-2.5",
            "exact": exact,
            "line": "Token counts are exact: counted with Google's own Gemini tokenizer.",
        },
        "readiness": {
            "ready": ready,
            "rejections": []
            if ready
            else [
                "Vertex would reject this job: 7 examples of the training set are invalid.",
                "Vertex would reject this job: the validation set has 3 examples; it needs 10.",
            ],
            "warnings": ["The training set has 40 examples; 100 or more tune better."],
        },
        "cost": {
            "text": "$1.23 (estimate, list price of 2026-09-25: $5.00 per 1M training tokens "
            "x 3 epochs)",
            "amount": 1.23,
            "perEpoch": 0.41,
            "pricePerMillion": 5.0,
            "priceDate": "2026-09-25",
            "priceUrl": None,
            "priceOrigin": "list",
            "epochs": 3,
            "epochsNote": None,
            "trainingTokens": 246_000,
        },
        "datasets": datasets,
    }


# 40 examples: many short ones, and a long tail.
TRAINING_INPUTS = [12, 15, 40, 41, 44, 60, 61, 62, 90, 95] * 3
TRAINING_INPUTS += [130, 131, 200, 250, 420, 421, 800, 1500, 4096, 8000]
SAMPLES = [
    {"role": "user", "text": "Translate to French:\n  the cat sits on the mat."},
    {"role": "model", "text": "Le chat est assis sur le tapis."},
]


def supervised_page() -> dict:
    training = dataset(
        "training",
        TRAINING_INPUTS,
        [x // 3 + 1 for x in TRAINING_INPUTS],
        [2] * 30 + [4] * 8 + [6] * 2,
        drops=[
            drop_group("role-assistant", 5, [3, 9, 17]),
            drop_group("too-long", 2, [21, 40], reason="has 140,000 input tokens"),
        ],
        samples=SAMPLES,
    )
    validation = dataset(
        "validation", [30, 31, 35], [10, 10, 12], [2, 2, 2], drops=[], samples=SAMPLES[:1]
    )
    return page_model([training, validation], ready=False)


def distillation_page() -> dict:
    training = dataset(
        "training",
        [50, 60, 70, 80, 800],
        None,
        [1, 1, 1, 1, 3],
        drops=[drop_group("not-json", 1, [4], reason="is not valid JSON")],
        samples=[{"role": "user", "text": "Summarize: tunestats counts tokens."}],
    )
    page = page_model([training], ready=True, task="distillation", exact=False)
    page["tokenizer"] = {
        "name": "cl100k_base",
        "exact": False,
        "line": "Token counts are ESTIMATES: cl100k_base is not the model's tokenizer.",
    }
    return page


def index_model() -> dict:
    def row(uri: str, status: str, **values) -> dict:
        keys = "format tokenizer exact examples dropped billableTokens inputP95 outputP95 ready"
        base = dict.fromkeys([*keys.split(), "cost", "page", "error"])
        return {**base, "uri": uri, "status": status, "rejections": [], **values}

    counted = {"format": "gemini", "tokenizer": "gemini-2.5", "exact": True}
    a = row(
        "gs://tuning-data/a.jsonl",
        "computed",
        **counted,
        **{"examples": 500, "dropped": 0, "billableTokens": 120_000},
        **{"inputP95": 300, "outputP95": 80, "ready": True},
        cost="$1.80 (estimate)",
        page="pages/a.html",
    )
    b = row("gs://tuning-data/b.jsonl", "failed", error="gs://tuning-data/b.jsonl: no such object")
    c = row(
        "gs://tuning-data/c.jsonl",
        "unchanged",
        **counted,
        **{"examples": 2_000, "dropped": 17, "billableTokens": 90_000},
        **{"inputP95": 900, "outputP95": 40, "ready": False},
        rejections=["Vertex would reject this job: 17 examples are invalid."],
        cost="$1.35 (estimate)",
        page="pages/c.html",
    )
    return {
        "title": "gs://tuning-data/",
        "generated": "2026-12-02T01:00:00Z",
        "version": "0.1.0",
        "rows": [a, b, c],
    }


def write(tmp_path: Path, text: str, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# Pure: geometry, filters, the text itself.


def test_bars_tile_the_axis_by_value():
    dist = distribution("input tokens", "f", TRAINING_INPUTS)
    bars = html.histogram_svg_data(dist)
    assert [(b.count, b.left, b.right) for b in bars] == [
        (b["count"], b["left"], b["right"]) for b in dist["buckets"]
    ]
    cells = dist["max"] - dist["min"] + 1
    for bar in bars:
        # A bar covers its values' cells, less the gap between bars.
        share = (bar.right - bar.left + 1) / cells * html.PLOT_WIDTH
        assert bar.width == pytest.approx(share - html.BAR_GAP, abs=0.02)
        assert bar.x == pytest.approx(
            html.MARGIN_X + (bar.left - dist["min"]) / cells * html.PLOT_WIDTH + 1, abs=0.01
        )
        assert bar.y + bar.height == pytest.approx(html.BASELINE)
    assert bars[0].x == html.MARGIN_X + html.BAR_GAP / 2
    assert bars[-1].x + bars[-1].width == pytest.approx(
        html.MARGIN_X + html.PLOT_WIDTH - html.BAR_GAP / 2, abs=0.02
    )
    tallest = max(bars, key=lambda b: b.count)
    assert tallest.height == html.PLOT_HEIGHT
    for bar in bars:
        assert bar.height == pytest.approx(
            max(bar.count / tallest.count * html.PLOT_HEIGHT, html.MIN_BAR_HEIGHT), abs=0.01
        )


def test_empty_buckets_leave_gaps():
    buckets = [{"count": 5, "left": 0, "right": 99}, {"count": 1, "left": 500, "right": 599}]
    dist = {"min": 0, "max": 599, "buckets": buckets}
    first, last = html.histogram_svg_data(dist)
    assert first.x == pytest.approx(9) and first.width == pytest.approx(464 / 6 - 2, abs=0.01)
    assert last.x == pytest.approx(8 + 464 * 5 / 6 + 1, abs=0.01)
    assert last.height == pytest.approx(html.PLOT_HEIGHT / 5)
    assert first.edges == ("0–99",) and last.edges == ("500–599",)


def test_one_value_is_one_bar_across():
    dist = {"min": 7, "max": 7, "p5": 7, "median": 7, "p95": 7}
    dist["buckets"] = [{"count": 40, "left": 7, "right": 7}]
    (bar,) = html.histogram_svg_data(dist)
    assert (bar.x, bar.width, bar.height) == (9, html.PLOT_WIDTH - 2, html.PLOT_HEIGHT)
    assert bar.edges == ("7",)
    markers = html.marker_svg_data(dist)
    assert {m.x for m in markers} == {html.MARGIN_X + html.PLOT_WIDTH / 2}
    assert [m.row for m in markers] == [0, 1, 2, 3]  # stacked labels, never on top of another


def test_markers_by_value():
    dist = distribution("input tokens", "f", TRAINING_INPUTS)
    markers = html.marker_svg_data(dist)
    assert [(m.stat, m.value) for m in markers] == [
        (stat, dist[stat]) for stat in ("p5", "median", "p95", "max")
    ]
    cells = dist["max"] - dist["min"] + 1
    for m in markers:
        assert m.x == pytest.approx(
            html.MARGIN_X + (m.value - dist["min"] + 0.5) / cells * html.PLOT_WIDTH, abs=0.01
        )
    assert [m.anchor for m in markers] == ["start", "start", "middle", "end"]
    assert html.histogram_chart({**dist, "buckets": []}) == html.Chart(bars=[], markers=[])


def test_long_edges_go_on_two_lines_for_every_bar():
    dist = distribution("t", "f", [100, 50_000, 131_072])
    bars = html.histogram_svg_data(dist)
    edges = [("100–", "21,928"), ("43,758–", "65,586"), ("109,245–", "131,072")]
    assert [b.edges for b in bars] == edges
    assert {b.edge_font for b in bars} == {html.EDGE_FONT}
    short = html.histogram_svg_data(distribution("t", "f", [1, 2, 3, 4, 5, 6]))
    assert [b.edges for b in short] == [(str(i),) for i in range(1, 7)]


def test_filters():
    assert html.number(1_234_567) == "1,234,567"
    assert html.number(1234.56) == "1,234.6"
    assert html.number(None) == "—"
    assert html.byte_size(999) == "999 bytes"
    assert html.byte_size(1_234_567) == "1.2 MB (1,234,567 bytes)"
    assert html.relative_href("pages/a b.html") == "pages/a b.html"
    assert html.relative_href("javascript:alert(1)") == "./javascript:alert(1)"
    assert html.web_href("https://cloud.google.com/vertex-ai/pricing").startswith("https://")
    assert html.web_href("javascript:alert(1)") is None
    assert html.reason_text({"line": 3, "reason": "line 3: bad role"}) == "bad role"
    assert html.reason_text({"line": 3, "reason": "bad role"}) == "bad role"


def test_the_page_fetches_nothing_and_stays_small():
    page = supervised_page()
    for ds in page["datasets"]:
        ds["dropGroups"] = [
            drop_group(f"kind-{i}", 1_000, [10 * i + 1, 10 * i + 2, 10 * i + 3], "x" * 300)
            for i in range(12)
        ]
        ds["dropped"] = 12_000
        ds["samples"] = [{"role": r, "text": "word " * 80} for r in ("user", "model", "user")]
    text = html.render_page(page)
    assert len(text.encode()) < 1_000_000
    assert len(text.encode()) < 100_000  # in fact: a page like this is about 60 kB
    # No URL to fetch, nothing linked in (the page has no price URL here).
    assert not re.search(r"https?:|\bsrc=|<link|<img|<iframe|@import|url\(", text)
    assert "<script" not in text


def test_every_value_is_escaped():
    page = supervised_page()
    page["title"] = HOSTILE
    page["datasets"][0]["samples"] = [{"role": "user", "text": HOSTILE}]
    text = html.render_page(page)
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_a_missing_key_is_an_error():
    page = supervised_page()
    del page["datasets"][0]["steps"]
    with pytest.raises(jinja2.UndefinedError, match="steps"):
        html.render_page(page)


def test_without_jinja2_the_error_names_the_extra(monkeypatch):
    html._environment.cache_clear()
    monkeypatch.setitem(sys.modules, "jinja2", None)
    try:
        with pytest.raises(ImportError, match=re.escape("pip install 'tunestats[html]'")):
            html.render_page(supervised_page())
    finally:
        html._environment.cache_clear()


# In the browser.


def bars_and_markers(page) -> dict:
    """{(dataset, field): {"bars": [...], "markers": [...], "stats": [...]}}, read in the page."""
    found = page.evaluate(
        """() => Array.from(document.querySelectorAll("section.dataset svg.histogram"))
          .map(svg => ({
            dataset: svg.closest("section.dataset").dataset.name,
            field: svg.dataset.field,
            bars: Array.from(svg.querySelectorAll("g.bar")).map(g => [
              Number(g.dataset.count), Number(g.dataset.left), Number(g.dataset.right),
              g.querySelector("text.count").textContent,
              g.querySelector("text.edges").textContent,
              Number(g.querySelector("rect").getAttribute("height"))]),
            markers: Array.from(svg.querySelectorAll("line.marker")).map(l => [
              l.dataset.stat, Number(l.dataset.value), Number(l.getAttribute("x1"))]),
            stats: Array.from(svg.closest("figure").querySelectorAll("dl.stats > div")).map(
              d => [d.dataset.stat, d.querySelector("dd").textContent]),
          }))"""
    )
    return {(f["dataset"], f["field"]): f for f in found}


@pytest.mark.browser
def test_report_in_the_browser(browser, tmp_path):  # noqa: F811
    model = supervised_page()
    with open_file(browser, write(tmp_path, html.render_page(model))) as visit:
        page = visit.page
        assert page.title() == "train.jsonl · tunestats"
        assert page.locator("section.dataset").evaluate_all("s => s.map(x => x.dataset.name)") == [
            "training",
            "validation",
        ]
        charts = bars_and_markers(page)
        expected = {
            (ds["name"], dist["field"]): dist
            for ds in model["datasets"]
            for dist in ds["distributions"]
        }
        assert set(charts) == set(expected)
        for key, dist in expected.items():
            bars = charts[key]["bars"]
            assert [tuple(b[:3]) for b in bars] == [
                (b["count"], b["left"], b["right"]) for b in dist["buckets"]
            ]
            for count, left, right, count_label, edges_label, height in bars:
                assert count_label == f"{count:,}"
                assert edges_label == (f"{left:,}" if left == right else f"{left:,}–{right:,}")
                assert height > 0
            markers = charts[key]["markers"]
            assert [m[:2] for m in markers] == [
                [stat, dist[stat]] for stat in ("p5", "median", "p95", "max")
            ]
            xs = [m[2] for m in markers]
            assert xs == sorted(xs)
            stats = ("sum", "min", "p5", "median", "mean", "p95", "max")
            assert charts[key]["stats"] == [[s, html.number(dist[s])] for s in stats]
            assert xs[0] >= html.MARGIN_X and xs[-1] <= html.MARGIN_X + html.PLOT_WIDTH

        for ds in model["datasets"]:
            drops = page.locator(f'section.dataset[data-name="{ds["name"]}"] section.drops')
            assert drops.get_attribute("data-dropped") == str(ds["dropped"])
            groups = drops.locator("div.drop-group")
            codes = groups.evaluate_all("g => g.map(x => [x.dataset.code, +x.dataset.count])")
            assert codes == [[g["code"], g["count"]] for g in ds["dropGroups"]]
            assert sum(count for _, count in codes) == ds["dropped"]
            for group, locator in zip(ds["dropGroups"], groups.all()):
                text = locator.inner_text()
                assert group["title"] in text and f"Fix: {group['hint']}" in text
                for example in group["examples"]:
                    assert f"line {example['line']} {example['reason'].split(': ', 1)[1]}" in text
                if group["path"]:
                    assert group["path"] in text

        verdict = page.locator("#verdict")
        assert verdict.get_attribute("data-ready") == "false"
        assert "Vertex would reject this job" in verdict.inner_text()
        assert page.locator("li.rejection").all_inner_texts() == model["readiness"]["rejections"]
        assert len(page.locator("li.warning").all()) == 1
        assert page.locator("#cost").inner_text() == model["cost"]["text"]
        assert page.locator("#exactness").inner_text() == "EXACT"
        read = page.locator("section.read").inner_text()
        for value in ("training.jsonl", "1764637200123456", "1.2 MB (1,234,567", "gemini-2.5"):
            assert value in read
        samples = page.locator('section.dataset[data-name="training"] .sample pre')
        assert samples.all_text_contents() == [s["text"] for s in SAMPLES]
        visit.assert_clean()
        # The page has nothing to run and links nothing in.
        assert page.locator("script, link, img, iframe, object, embed, [src]").count() == 0

        artifacts = Path(os.environ.get("TUNESTATS_ARTIFACTS") or tmp_path)
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "tunestats-report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000


# Elements that stick out of the screen, or whose content sticks out of them (to scroll; not
# the shapes and text inside an SVG, which cannot scroll: Chromium gives their sizes rounded
# two ways, and LAYOUT_FACTS checks the marker labels against their chart).
OUTSIDE_THE_SCREEN = """() => Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
               || (e.clientWidth && !(e instanceof SVGElement && !(e instanceof SVGSVGElement))
                   && e.scrollWidth > e.clientWidth + 1))
  .map(e => e.tagName + "." + e.getAttribute("class"))"""


@pytest.mark.browser
def test_training_and_validation_side_by_side_then_stacked(browser, tmp_path):  # noqa: F811
    path = write(tmp_path, html.render_page(supervised_page()))
    for width, side_by_side in ((1280, True), (390, False)):
        with open_file(browser, path, viewport=(width, 900)) as visit:
            training, validation = (
                visit.page.locator(f'section.dataset[data-name="{name}"]').bounding_box()
                for name in ("training", "validation")
            )
            if side_by_side:
                assert training["y"] == validation["y"]
                assert validation["x"] >= training["x"] + training["width"]
            else:
                assert training["x"] == validation["x"]
                assert validation["y"] >= training["y"] + training["height"]
            # Nothing wider than the screen (long URIs and samples wrap, tables fit).
            assert visit.page.evaluate(OUTSIDE_THE_SCREEN) == []
            visit.assert_clean()


@pytest.mark.browser
def test_distillation_page_in_the_browser(browser, tmp_path):  # noqa: F811
    model = distillation_page()
    with open_file(browser, write(tmp_path, html.render_page(model))) as visit:
        page = visit.page
        assert page.locator("section.dataset").count() == 1
        fields = page.locator("svg.histogram").evaluate_all("s => s.map(x => x.dataset.field)")
        assert fields == ["userInputTokenDistribution", "userMessagePerExampleDistribution"]
        verdict = page.locator("#verdict")
        assert verdict.get_attribute("data-ready") == "true"
        assert (
            verdict.locator(".verdict-title").inner_text().endswith("Vertex would accept this job")
        )
        assert page.locator("li.rejection").count() == 0
        assert page.locator("li.warning").all_inner_texts() == [
            "WARNING " + w for w in model["readiness"]["warnings"]
        ]
        assert page.locator("#exactness").inner_text() == "ESTIMATES"
        assert "ESTIMATES: cl100k_base" in page.locator("#tokenizer-line").inner_text()
        assert page.locator("section.drops").get_attribute("data-dropped") == "1"
        visit.assert_clean()


@pytest.mark.browser
def test_index_sorts_by_clicking(browser, tmp_path):  # noqa: F811
    model = index_model()
    with open_file(browser, write(tmp_path, html.render_index(model), "index.html")) as visit:
        page = visit.page

        def order() -> list[str]:
            return page.locator("tr.dataset-row").evaluate_all("r => r.map(x => x.dataset.uri)")

        a, b, c = (row["uri"] for row in model["rows"])
        assert order() == [a, b, c]
        heading = page.locator('th[data-sort="examples"]')
        heading.click()
        assert order() == [c, a, b]  # largest first, the failed row (no value) last
        assert heading.get_attribute("aria-sort") == "descending"
        heading.click()
        assert order() == [a, c, b]  # smallest first, missing still last
        assert heading.get_attribute("aria-sort") == "ascending"
        page.locator('th[data-sort="billableTokens"]').click()
        assert order() == [a, c, b]
        assert heading.get_attribute("aria-sort") is None
        page.locator('th[data-sort="inputP95"]').click()
        assert order() == [c, a, b]

        links = page.locator("a.page-link")
        assert links.evaluate_all("l => l.map(x => x.getAttribute('href'))") == [
            "pages/c.html",
            "pages/a.html",
        ]
        failed = page.locator('tr.dataset-row[data-status="failed"]')
        assert failed.locator("a").count() == 0
        assert "no such object" in failed.inner_text()
        assert failed.locator('td[data-key="examples"]').get_attribute("data-value") == ""
        rejected = page.locator(f'tr.dataset-row[data-uri="{c}"] li.rejection')
        assert rejected.all_inner_texts() == model["rows"][2]["rejections"]
        assert "1 would be accepted" in page.locator("#summary").inner_text()
        assert page.evaluate(OUTSIDE_THE_SCREEN) == []  # the table fits a laptop's screen
        visit.assert_clean()  # the script ran under the page's Content-Security-Policy


@pytest.mark.browser
def test_pages_without_javascript(browser, tmp_path):  # noqa: F811
    model = supervised_page()
    path = write(tmp_path, html.render_page(model))
    with open_file(browser, path, javascript=False) as visit:
        page = visit.page
        assert page.locator("section.dataset").count() == 2
        dists = [d for ds in model["datasets"] for d in ds["distributions"]]
        assert page.locator("g.bar").count() == sum(len(d["buckets"]) for d in dists)
        assert page.locator("line.marker").count() == 4 * len(dists)
        assert page.locator("div.drop-group").count() == 2
        text = page.locator("body").inner_text()
        for expected in (model["cost"]["text"], SAMPLES[0]["text"], "Fix: repair the too-long"):
            assert expected in text
        assert page.locator("g.bar rect").first.bounding_box()["height"] > 0  # drawn by CSS+SVG
        visit.assert_clean()

    index = write(tmp_path, html.render_index(index_model()), "index.html")
    with open_file(browser, index, javascript=False) as visit:
        page = visit.page
        assert page.locator("tr.dataset-row").count() == 3
        assert page.locator("a.page-link").count() == 2
        assert page.locator("th button").count() == 0  # the sort buttons come with the script
        assert not page.locator(".sort-hint").is_visible()
        visit.assert_clean()


@pytest.mark.browser
def test_hostile_text_is_shown_not_run(browser, tmp_path):  # noqa: F811
    model = supervised_page()
    model["title"] = HOSTILE
    model["source"]["uri"] = f"gs://tuning-data/{HOSTILE}.jsonl"
    model["readiness"]["rejections"][0] = f"Vertex would reject this job: {HOSTILE}"
    model["datasets"][0]["dropGroups"][0]["examples"][0]["reason"] = f"line 3: {HOSTILE}"
    model["datasets"][0]["samples"] = [{"role": "user", "text": HOSTILE}]
    with open_file(browser, write(tmp_path, html.render_page(model))) as visit:
        page = visit.page
        assert page.locator("h1").inner_text() == HOSTILE
        assert page.title() == f"{HOSTILE} · tunestats"
        assert HOSTILE in page.locator("section.read").inner_text()
        assert HOSTILE in page.locator("li.rejection").first.inner_text()
        assert HOSTILE in page.locator("div.drop-group").first.inner_text()
        assert page.locator(".sample pre").first.inner_text() == HOSTILE
        assert page.locator("script").count() == 0
        visit.assert_clean()  # no dialog: nothing ran

    index = index_model()
    index["rows"][0]["uri"] = HOSTILE
    index["rows"][0]["page"] = "javascript:alert(1)"
    index["rows"][1]["error"] = HOSTILE
    with open_file(browser, write(tmp_path, html.render_index(index), "index.html")) as visit:
        page = visit.page
        assert page.locator("script").count() == 1  # the sort script, and only it
        assert page.locator("tr.dataset-row").first.get_attribute("data-uri") == HOSTILE
        link = page.locator("a.page-link").first
        assert link.inner_text() == HOSTILE
        assert link.get_attribute("href") == "./javascript:alert(1)"
        assert HOSTILE in page.locator('tr.dataset-row[data-status="failed"]').inner_text()
        visit.assert_clean()


# --- the pages tunestats writes, against its own JSON document ---------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example.jsonl"


def _json_documents(capsys, argv: list[str]) -> dict:
    from tunestats.cli import main

    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.browser
@pytest.mark.parametrize(
    "source", [EXAMPLE, CORPUS / "broken" / "training_data_wrong.jsonl"], ids=["example", "broken"]
)
def test_the_page_of_stats_matches_its_json_document(browser, tmp_path, capsys, source):  # noqa: F811
    """`stats --html`: every bar's count and edges are the document's buckets, and the drop
    groups add up to the document's dropped total, for training and validation."""
    from tunestats.cli import main

    argv = ["stats", str(source), "--validation", str(source), "--quiet"]
    argv += ["--max-tokens-per-example", "200", "--epochs", "2"]
    docs = _json_documents(capsys, argv)
    out = tmp_path / "report.html"
    assert main([*argv, "--html", str(out)]) == 0
    assert out.stat().st_size < 1_000_000
    with open_file(browser, out) as visit:
        charts = bars_and_markers(visit.page)
        for name in ("training", "validation"):
            doc = docs[name]["supervisedTuningDataStats"]
            for field in (
                "userInputTokenDistribution",
                "userOutputTokenDistribution",
                "userMessagePerExampleDistribution",
            ):
                bars = [tuple(b[:3]) for b in charts[(name, field)]["bars"]]
                assert bars == [
                    (int(b["count"]), int(b["left"]), int(b["right"]))
                    for b in doc[field]["buckets"]
                ], (name, field)
                markers = {m[0]: m[1] for m in charts[(name, field)]["markers"]}
                for stat in ("p5", "median", "p95", "max"):
                    assert markers[stat] == float(doc[field][stat])
            drops = visit.page.locator(f'section.dataset[data-name="{name}"] section.drops')
            total = int(doc.get("totalTruncatedExampleCount", "0"))
            if total:
                counts = drops.locator("div.drop-group").evaluate_all(
                    "g => g.map(x => +x.dataset.count)"
                )
                assert sum(counts) == total == int(drops.get_attribute("data-dropped"))
        visit.assert_clean()
        artifacts = Path(os.environ.get("TUNESTATS_ARTIFACTS") or tmp_path)
        artifacts.mkdir(parents=True, exist_ok=True)
        visit.page.screenshot(path=str(artifacts / f"tunestats-{source.stem}.png"), full_page=True)


@pytest.mark.browser
def test_the_batch_index_links_a_page_per_dataset(browser, tmp_path, capsys):  # noqa: F811
    """`batch --html DIR`: one row per dataset, each counted one linking to its page."""
    from tunestats.cli import main

    sources = [str(EXAMPLE), str(CORPUS / "openai" / "toy_chat_cookbook.jsonl")]
    folder = tmp_path / "html"
    argv = ["batch", *sources, "--out", str(tmp_path / "out"), "--html", str(folder)]
    argv += ["--price-per-million", "5", "--epochs", "2"]
    assert main([*argv, "--tokenizer", "cl100k_base", "--quiet"]) == 0
    assert f"HTML index in {folder}/index.html" in capsys.readouterr().out
    with open_file(browser, folder / "index.html") as visit:
        rows = visit.page.locator("tr.dataset-row")
        assert rows.evaluate_all("r => r.map(x => x.dataset.uri)") == sources
        rejections = visit.page.locator("li.rejection").all_inner_texts()
        assert rejections and all(
            r.startswith("Vertex would reject this job: ") for r in rejections
        )
        costs = visit.page.locator('td[data-key="cost"]').all_inner_texts()
        assert all("estimate, at --price-per-million $5.00" in c for c in costs)
        links = visit.page.locator("a.page-link").evaluate_all(
            "a => a.map(x => x.getAttribute('href'))"
        )
        assert len(links) == 2
        visit.assert_clean()
    for link in links:
        page = folder / link
        assert page.is_file()
        with open_file(browser, page) as visit:
            assert visit.page.locator("section.dataset").count() == 1
            assert visit.page.locator("#verdict").get_attribute("data-ready") == "false"
            visit.assert_clean()


# --- layout at 1,280 and 1,920 px: screenshots and the facts they must show ------------------

# What a reader would see go wrong, measured in the page: horizontal overflow, marker labels
# that meet (or meet a bar's count, or leave the chart), how much of the width one dataset's
# content takes.
LAYOUT_FACTS = """() => {
  const meet = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
    && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const overlaps = [], outside = [];
  for (const svg of document.querySelectorAll("svg.histogram")) {
    const frame = svg.getBoundingClientRect();
    const labels = Array.from(svg.querySelectorAll("text.marker-label"));
    const counts = Array.from(svg.querySelectorAll("text.count"));
    const box = t => t.getBoundingClientRect();
    labels.forEach((a, i) => {
      const r = box(a);
      if (r.left < frame.left - 0.5 || r.right > frame.right + 0.5) outside.push(a.textContent);
      for (const b of labels.slice(i + 1)) {
        if (meet(r, box(b))) overlaps.push([a.textContent, b.textContent]);
      }
      for (const c of counts) {
        if (meet(r, box(c))) overlaps.push([a.textContent, "count " + c.textContent]);
      }
    });
  }
  const main = document.querySelector("main");
  const style = getComputedStyle(main);
  const inner = el => {
    const s = getComputedStyle(el);
    return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  };
  const datasets = Array.from(document.querySelectorAll("section.dataset")).map(ds => {
    const panels = Array.from(ds.querySelectorAll(".panels > .panel"))
      .map(p => p.getBoundingClientRect());
    const right = Math.max(...panels.map(p => p.right));
    const left = Math.min(...panels.map(p => p.left));
    return {
      width: ds.getBoundingClientRect().width,
      inner: inner(ds),
      panels: panels.length ? right - left : 0,
      columns: new Set(panels.map(p => Math.round(p.left))).size,
    };
  });
  return {
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    margins: parseFloat(style.paddingLeft) + parseFloat(style.paddingRight)
      + Math.max(0, window.innerWidth - main.getBoundingClientRect().width),
    overlaps, outside, datasets,
  };
}"""

WIDTHS = (1280, 1920)


def shoot(page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot into $TUNESTATS_ARTIFACTS (else the test's tmp folder)."""
    artifacts = Path(os.environ.get("TUNESTATS_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"tunestats-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    return shot


def assert_reads_well(page, *, one_dataset: bool) -> dict:
    facts = page.evaluate(LAYOUT_FACTS)
    assert facts["scrollWidth"] <= facts["viewport"], "the page scrolls sideways"
    assert page.evaluate(OUTSIDE_THE_SCREEN) == []
    assert facts["overlaps"] == [], "marker labels meet"
    assert facts["outside"] == [], "marker labels leave their chart"
    if one_dataset:
        (ds,) = facts["datasets"]
        # The dataset's card and its panels take the width: never 60% of it with white beside.
        assert ds["width"] > 0.9 * (facts["viewport"] - facts["margins"])
        assert ds["panels"] > 0.9 * ds["inner"]
        assert ds["columns"] >= 2  # the totals and the charts side by side
    return facts


def equal_statistics_page() -> dict:
    """One dataset whose messages are all 2 (p5 = median = p95 = max) and whose output tokens
    have p95 = max: the labels that used to meet."""
    training = dataset(
        "training",
        TRAINING_INPUTS,
        [5] * 38 + [40, 40],
        [2] * 40,
        drops=[drop_group("role-assistant", 5, [3, 9, 17])],
        samples=SAMPLES,
    )
    return page_model([training], ready=True)


def test_equal_statistics_share_one_label():
    text = html.render_page(equal_statistics_page())
    labels = re.findall(r'<text class="marker-label[^"]*"[^>]*>([^<]*)</text>', text)
    assert "p5 = median = p95 = max: 2" in labels
    assert "p95 = max: 40" in labels and "p5 = median: 5" in labels
    assert text.count('<line class="marker ') == 4 * 3  # every statistic keeps its line


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_one_dataset_uses_the_width(browser, tmp_path, width):  # noqa: F811
    model = equal_statistics_page()
    path = write(tmp_path, html.render_page(model))
    with open_file(browser, path, viewport=(width, 900)) as visit:
        page = visit.page
        assert_reads_well(page, one_dataset=True)
        messages = page.locator('svg[data-field="userMessagePerExampleDistribution"]')
        assert messages.locator("text.marker-label").all_text_contents() == [
            "p5 = median = p95 = max: 2"
        ]
        assert messages.locator("line.marker").count() == 4
        shoot(page, f"one-dataset-{width}", tmp_path)
        visit.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_two_datasets_read_well(browser, tmp_path, width):  # noqa: F811
    path = write(tmp_path, html.render_page(supervised_page()))
    with open_file(browser, path, viewport=(width, 900)) as visit:
        facts = assert_reads_well(visit.page, one_dataset=False)
        training, validation = facts["datasets"]
        assert abs(training["width"] - validation["width"]) < 1  # side by side, equal
        shoot(visit.page, f"two-datasets-{width}", tmp_path)
        visit.assert_clean()


@pytest.mark.browser
def test_the_cost_headline_is_the_figure(browser, tmp_path):  # noqa: F811
    model = supervised_page()
    model["cost"]["headline"] = "$1.23"
    with open_file(browser, write(tmp_path, html.render_page(model))) as visit:
        page = visit.page
        headline, sentence = page.locator("#cost-headline"), page.locator("#cost")
        assert headline.inner_text() == "$1.23"
        assert sentence.inner_text() == model["cost"]["text"]  # the whole sentence, below
        size = "e => parseFloat(getComputedStyle(e).fontSize)"
        assert sentence.evaluate(size) < headline.evaluate(size) / 1.5
        assert sentence.bounding_box()["y"] >= headline.bounding_box()["y"] + 10
        visit.assert_clean()


@pytest.mark.browser
def test_each_sample_is_a_block_with_its_roles(browser, tmp_path):  # noqa: F811
    model = equal_statistics_page()
    model["datasets"][0]["sampleExamples"] = [
        {"line": 1, "turns": SAMPLES},
        {"line": 4, "turns": [*SAMPLES, {"role": "user", "text": "And the dog?"}]},
        {"line": 9, "turns": SAMPLES[:1]},
    ]
    with open_file(browser, write(tmp_path, html.render_page(model))) as visit:
        page = visit.page
        examples = page.locator("section.samples article.example")
        assert examples.evaluate_all("a => a.map(x => +x.dataset.line)") == [1, 4, 9]
        boxes = [e.bounding_box() for e in examples.all()]
        for above, below in zip(boxes, boxes[1:]):
            assert below["y"] >= above["y"] + above["height"] + 4  # apart, not run together
        second = examples.nth(1)
        assert second.locator(".example-title").inner_text() == "Example 2 · line 4"
        roles = second.locator(".sample").evaluate_all("s => s.map(x => x.dataset.role)")
        assert roles == ["user", "model", "user"]
        assert second.locator(".sample .role").all_inner_texts() == ["USER", "MODEL", "USER"]
        assert second.locator(".sample pre").last.inner_text() == "And the dog?"
        visit.assert_clean()


@pytest.mark.browser
def test_no_valid_example_says_so(browser, tmp_path, capsys):  # noqa: F811
    """A file where no record matches the format (batch-prediction output read as gemini):
    no empty "Distributions", but why there is none."""
    from tunestats.cli import main

    out = tmp_path / "report.html"
    source = CORPUS / "distill" / "batch_predictions_flash.jsonl"  # batch-prediction output
    argv = ["stats", str(source), "--format", "gemini", "--quiet", "--html", str(out)]
    assert main(argv) == 1
    capsys.readouterr()
    with open_file(browser, out) as visit:
        page = visit.page
        assert page.locator("svg.histogram").count() == 0
        note = page.locator("section.dataset .no-distribution")
        assert note.locator("h3").inner_text() == "Distributions"
        assert note.locator("p").inner_text() == "no valid example: no distribution"
        assert_reads_well(page, one_dataset=True)
        visit.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_tunestats_writes_read_well(browser, tmp_path, capsys, width):  # noqa: F811
    """`stats --html` of the example (one dataset, with a price) and of the corpus file with
    drops as training and validation, at both widths."""
    from tunestats.cli import main

    one = tmp_path / "example.html"
    argv = ["stats", str(EXAMPLE), "--quiet", "--epochs", "3", "--price-per-million", "8"]
    assert main([*argv, "--html", str(one)]) == 0
    broken = CORPUS / "broken" / "training_data_wrong.jsonl"
    pair = tmp_path / "pair.html"
    argv = ["stats", str(broken), "--validation", str(broken), "--quiet"]
    assert main([*argv, "--max-tokens-per-example", "200", "--html", str(pair)]) == 0
    capsys.readouterr()
    with open_file(browser, one, viewport=(width, 900)) as visit:
        page = visit.page
        assert_reads_well(page, one_dataset=True)
        assert re.fullmatch(r"\$0\.\d+", page.locator("#cost-headline").inner_text())
        assert page.locator("article.example").count() == 3  # the example's three samples
        shoot(page, f"example-{width}", tmp_path)
        visit.assert_clean()
    with open_file(browser, pair, viewport=(width, 900)) as visit:
        assert_reads_well(visit.page, one_dataset=False)
        assert visit.page.locator("#cost-headline").inner_text() == "no list price"
        shoot(visit.page, f"broken-{width}", tmp_path)
        visit.assert_clean()


LONG = "gs://tuning-data/a-very-long-folder-name-for-the-support-team-datasets/2026_q4_final/"


def long_index_model() -> dict:
    """The index of datasets with long URIs, one name without any break, and one cost hint."""
    model = index_model()
    hint = "no list price known for gemini-2.5-flash; give --price-per-million X for an estimate"
    for i, row in enumerate(model["rows"]):
        row["uri"] = LONG + ("x" * 90 if i == 0 else f"dataset_{i}") + ".jsonl"
        row["cost"] = hint
        row["costHeadline"] = "no list price"
        row["tokenizer"] = "gemini:gemma3_cleaned_262144_v2.spiece.model"
        row["exact"] = True
    model["rows"][1]["error"] = model["rows"][1]["uri"] + ": no such file or object"
    model["rows"][1]["cost"] = None
    model["prefix"] = LONG
    return model


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_index_fits_and_says_a_hint_once(browser, tmp_path, width):  # noqa: F811
    model = long_index_model()
    path = write(tmp_path, html.render_index(model), "index.html")
    with open_file(browser, path, viewport=(width, 900)) as visit:
        page = visit.page
        assert_reads_well(page, one_dataset=False)
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")  # every column visible
        text = page.locator("body").inner_text()
        assert text.count("give --price-per-million X") == 1  # a footnote, not every row
        assert page.locator("#cost-note").inner_text().startswith("* Cost, for every dataset:")
        cells = page.locator('td[data-key="cost"]').all_inner_texts()
        assert cells == ["no list price*", "—", "no list price*"]
        assert text.count("gemma3_cleaned_262144_v2") == 1  # the one tokenizer, said once
        assert page.locator("#prefix").inner_text().startswith(LONG)
        links = page.locator("a.page-link")
        assert links.first.inner_text() == "x" * 90 + ".jsonl"
        assert links.first.get_attribute("title") == model["rows"][0]["uri"]
        failed = page.locator('tr.dataset-row[data-status="failed"]')
        assert failed.locator(".note").inner_text() == "no such file or object"
        shoot(page, f"index-{width}", tmp_path)
        visit.assert_clean()


@pytest.mark.browser
def test_the_index_shows_costs_that_differ(browser, tmp_path):  # noqa: F811
    """Sentences that differ stay in their rows, under the figure."""
    model = index_model()
    model["rows"][0]["costHeadline"] = "$1.80"
    with open_file(browser, write(tmp_path, html.render_index(model), "index.html")) as visit:
        cells = visit.page.locator('td[data-key="cost"]').all_inner_texts()
        assert cells[0] == "$1.80\n$1.80 (estimate)" and cells[2] == "$1.35 (estimate)"
        assert visit.page.locator("#cost-note").count() == 0
        visit.assert_clean()
