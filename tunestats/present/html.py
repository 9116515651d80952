"""HTML: the report of a run as one self-contained page, and the index of a batch.

From the *page model* (plain JSON-able dicts the engine builds, see below) to HTML text:
:func:`render_page` for one dataset run (``tunestats stats ... --html``), :func:`render_index`
for a batch (``tunestats batch ... --html``). The last stage, like ``text``: it hands strings to
the CLI, which writes them. It needs Jinja2, the ``html`` extra, imported only when a page is
rendered.

The page stands alone: CSS in a ``<style>``, charts as inline SVG drawn by the template (no
chart library: the charts are six bars and four lines, which a library would make heavier,
dependent on JavaScript and on files beside the page), no font, image, script or stylesheet
from anywhere. A Content-Security-Policy ``<meta>`` forbids every fetch, so even a mistake
could not make the page load anything. The dataset page has no script at all; the index has one
small inline script (allowed by its hash) that sorts the table when a heading is clicked.
Everything is readable with JavaScript off. Every value is escaped (Jinja2's autoescape).

The page model (every key present, ``None`` where a value is allowed to be missing):

- page: ``title``, ``generated``, ``version``, ``source`` (``uri``, ``generation``, ``mtime``,
  ``size``, ``format``, ``task``, ``model``), ``tokenizer`` (``name``, ``exact``, ``line``),
  ``readiness`` (``ready``, ``rejections``, ``warnings``), ``cost`` (``text``, ``epochsNote``,
  ``priceUrl``, ...), ``datasets`` (training, then validation: totals, ``distributions`` with
  ``buckets``, ``dropGroups`` with ``examples``, ``samples``).
- index: ``title``, ``generated``, ``version``, ``rows`` (``uri``, ``status``, ``format``,
  ``tokenizer``, ``exact``, ``examples``, ``dropped``, ``billableTokens``, ``inputP95``,
  ``outputP95``, ``ready``, ``rejections``, ``cost``, ``page``, ``error``).

DOM contract (tests, the engine's included, rely on it; numbers in ``data-*`` attributes are
the plain values of the page model, without separators):

- each dataset: ``<section class="dataset" data-name="training|validation">``;
- each distribution: ``<svg class="histogram" data-field="userInputTokenDistribution">`` (the
  distribution's ``field``), holding one ``<g class="bar" data-count="N" data-left="L"
  data-right="R">`` per bucket, in order (a ``rect``, a ``text.count`` with the count and a
  ``text.edges`` with the edges), and ``<line class="marker" data-stat="p5|median|p95|max"
  data-value="V">``; a distribution without buckets has no ``svg``; its figures follow in
  ``<dl class="stats">``, one ``<div data-stat="sum|min|p5|median|mean|p95|max">`` each;
- the dropped examples of a dataset: ``<section class="drops" data-dropped="TOTAL">`` holding
  one ``<div class="drop-group" data-code="CODE" data-count="N">`` per kind;
- the samples: ``<section class="samples">``, one ``<div class="sample" data-role="ROLE">`` per
  message;
- the verdict: ``<div id="verdict" data-ready="true|false">``, each rejection an
  ``<li class="rejection">``, each warning an ``<li class="warning">``; the cost:
  ``<p id="cost">``; the tokenizer: ``<span id="exactness">`` (EXACT or ESTIMATES) and
  ``<span id="tokenizer-line">``;
- index: ``<table id="datasets">``, one ``<tr class="dataset-row" data-uri="URI"
  data-status="STATUS">`` per row, cells ``<td data-key="KEY" data-value="V">`` (V empty when
  the value is missing) and ``<th data-sort="KEY">`` headings for the sortable keys
  (``examples``, ``dropped``, ``billableTokens``, ``inputP95``, ``outputP95``); the row of a
  dataset with a page links to it with ``<a class="page-link" href="PAGE">``.

Chart geometry (:func:`histogram_svg_data`, :func:`marker_svg_data`): the x axis holds the
values ``min .. max``, each integer value a cell of equal width, so a bucket ``[left, right]``
covers ``right - left + 1`` cells (bars tile the axis; an empty bucket leaves a gap) and a
marker for the value ``v`` stands in the middle of ``v``'s cell. Bar heights are proportional to
the counts, the highest bar the full plot height.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING_EXTRA = "the HTML report needs its extra: pip install 'tunestats[html]'"


def missing_extra() -> str | None:
    """What to install for the HTML report, or None when it can be written (said before a
    run counts anything, not after)."""
    import importlib.util

    return MISSING_EXTRA if importlib.util.find_spec("jinja2") is None else None


# SVG geometry, in viewBox units (the SVG scales to its column; text scales with it).
WIDTH = 480
MARGIN_X = 8
PLOT_WIDTH = WIDTH - 2 * MARGIN_X
MARKER_ROW = 12  # one row of marker labels per statistic, so close values never overlap
MARKER_STATS = ("p5", "median", "p95", "max")
PLOT_TOP = len(MARKER_STATS) * MARKER_ROW + 18  # room for the count above the highest bar
PLOT_HEIGHT = 110
BASELINE = PLOT_TOP + PLOT_HEIGHT
EDGE_FONT = 10.0
MIN_EDGE_FONT = 6.5
HEIGHT = BASELINE + 2 * (EDGE_FONT + 2) + 4  # two lines of edges under the bars
BAR_GAP = 2.0
MIN_BAR_HEIGHT = 1.5  # a bucket of 1 among millions is still visible
CHAR_WIDTH = 0.6  # of a digit, in ems, in the usual sans-serif fonts (a safe upper bound)


@dataclass(frozen=True)
class Bar:
    """One bucket's bar: ``x``, ``y``, ``width``, ``height`` in viewBox units."""

    count: int
    left: int
    right: int
    x: float
    y: float
    width: float
    height: float
    edges: tuple[str, ...]  # one or two lines of text: "left–right"
    edge_font: float

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)

    @property
    def count_y(self) -> float:
        """The baseline of the count, just above the bar."""
        return round(self.y - 4, 2)

    @property
    def edges_y(self) -> float:
        """The baseline of the first line of edges, just under the axis."""
        return round(BASELINE + self.edge_font + 3, 2)

    @property
    def edge_step(self) -> float:
        return round(self.edge_font + 1, 2)


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` for one statistic, its label in row ``row`` at the top."""

    stat: str
    value: int
    x: float
    row: int
    anchor: str  # text-anchor of the label: it never runs out of the picture

    @property
    def label_y(self) -> float:
        return (self.row + 1) * MARKER_ROW - 2

    @property
    def top(self) -> float:
        return self.label_y + 3


@dataclass(frozen=True)
class Chart:
    """One distribution's picture: its bars and markers, and the frame they sit in."""

    bars: list[Bar]
    markers: list[Marker]
    width: int = WIDTH
    height: float = HEIGHT
    baseline: float = BASELINE
    plot_left: float = MARGIN_X
    plot_right: float = MARGIN_X + PLOT_WIDTH


def _cells(dist: Mapping[str, Any]) -> tuple[int, int]:
    """The axis: its first value and its number of integer cells (at least one)."""
    lo, hi = int(dist["min"]), int(dist["max"])
    return lo, max(hi - lo + 1, 1)


def _x(value: float, lo: int, cells: int) -> float:
    return MARGIN_X + (value - lo) / cells * PLOT_WIDTH


def _edge_lines(left: int, right: int, split: bool) -> tuple[str, ...]:
    if left == right:
        return (f"{left:,}",)
    return (f"{left:,}–", f"{right:,}") if split else (f"{left:,}–{right:,}",)


def _edge_layout(edges: list[tuple[int, int, float]]) -> tuple[bool, float]:
    """Whether the edges go on two lines, and their font size: one line if every bucket's fits
    under its bar, else two for all (the same look across the chart), smaller if need be."""

    def fits(split: bool, font: float) -> bool:
        return all(
            max(map(len, _edge_lines(left, right, split))) * CHAR_WIDTH * font <= room
            for left, right, room in edges
        )

    if fits(False, EDGE_FONT):
        return False, EDGE_FONT
    font = EDGE_FONT
    while font > MIN_EDGE_FONT and not fits(True, font):
        font = round(font - 0.5, 2)
    return True, font


def histogram_svg_data(dist: Mapping[str, Any]) -> list[Bar]:
    """The bars of a distribution's buckets (in their order), placed by value on the axis
    ``min .. max``; [] when it has no bucket."""
    buckets = dist.get("buckets") or []
    if not buckets:
        return []
    lo, cells = _cells(dist)
    top = max(int(b["count"]) for b in buckets) or 1
    spans = []  # (count, left, right, x0, x1): the bucket covers its values' cells
    for b in buckets:
        left, right = int(b["left"]), int(b["right"])
        spans.append((int(b["count"]), left, right, _x(left, lo, cells), _x(right + 1, lo, cells)))
    split, font = _edge_layout([(left, right, x1 - x0) for _, left, right, x0, x1 in spans])
    bars = []
    for count, left, right, x0, x1 in spans:
        width = max(x1 - x0 - BAR_GAP, 1.0)
        height = max(count / top * PLOT_HEIGHT, MIN_BAR_HEIGHT) if count else 0.0
        bars.append(
            Bar(
                count=count,
                left=left,
                right=right,
                x=round(x0 + BAR_GAP / 2, 2),
                y=round(BASELINE - height, 2),
                width=round(width, 2),
                height=round(height, 2),
                edges=_edge_lines(left, right, split),
                edge_font=font,
            )
        )
    return bars


def marker_svg_data(dist: Mapping[str, Any]) -> list[Marker]:
    """p5, median, p95 and max at their values (clamped to the axis), one label row each."""
    lo, cells = _cells(dist)
    markers = []
    for row, stat in enumerate(MARKER_STATS):
        value = int(dist[stat])
        x = _x(min(max(value, lo), lo + cells - 1) + 0.5, lo, cells)
        share = (x - MARGIN_X) / PLOT_WIDTH
        anchor = "start" if share < 0.2 else "end" if share > 0.8 else "middle"
        markers.append(Marker(stat=stat, value=value, x=round(x, 2), row=row, anchor=anchor))
    return markers


def histogram_chart(dist: Mapping[str, Any]) -> Chart:
    """What the template draws for one distribution."""
    bars = histogram_svg_data(dist)
    return Chart(bars=bars, markers=marker_svg_data(dist) if bars else [])


# Filters: small, pure, and safe on the None of a missing value.


def number(value: Any, digits: int = 1) -> str:
    """Thousands separators: 1234567 -> "1,234,567"; floats with ``digits`` decimals; None ->
    "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def byte_size(value: int | None) -> str:
    """Decimal units, as the progress bar writes them: 2048 -> "2.0 kB (2,048 bytes)"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value:,} bytes"
    units = ("kB", "MB", "GB", "TB", "PB")
    size, unit = value / 1000, 0
    while size >= 1000 and unit < len(units) - 1:
        size, unit = size / 1000, unit + 1
    return f"{size:,.1f} {units[unit]} ({value:,} bytes)"


_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:")


def relative_href(value: str) -> str:
    """A link to a page beside this one: anything that looks like a URL scheme
    (``javascript:``, ``https:``) is made a relative path."""
    return "./" + value if _SCHEME.match(value) else value


def web_href(value: str | None) -> str | None:
    """Only http(s) URLs become links (the price page); anything else stays text."""
    if value and re.match(r"^https?://", value, re.IGNORECASE):
        return value
    return None


def reason_text(example: Mapping[str, Any]) -> str:
    """The reason without its leading "line N: " (the line is shown beside it)."""
    reason = str(example["reason"])
    prefix = f"line {example['line']}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script."""
    digest = hashlib.sha256(str(script).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    try:
        import jinja2
    except ImportError as error:
        raise ImportError(MISSING_EXTRA) from error
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tunestats", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a key missing from the page model is an error
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=number,
        byte_size=byte_size,
        relative_href=relative_href,
        web_href=web_href,
        reason_text=reason_text,
        csp_hash=csp_hash,
    )
    env.globals.update(histogram=histogram_chart)
    return env


def render_page(page: dict) -> str:
    """The report of one run (training, and validation when given) as one HTML file."""
    return _environment().get_template("report.html.j2").render(page=page)


def render_index(index: dict) -> str:
    """The index of a batch: one sortable row per dataset, linking to its page."""
    return _environment().get_template("index.html.j2").render(index=index)
