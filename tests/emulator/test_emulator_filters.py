"""The emulator's list filter: each field kind and operator by hand, errors with positions, and
a property that a random boolean tree of terms filters exactly as Python evaluates it."""

from __future__ import annotations

import calendar
import pickle
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunestats.emulator.filter_fields import parse_timestamp
from tunestats.emulator.filter_tokens import FilterError
from tunestats.emulator.filters import parse_filter

PREFIX = "projects/p/locations/us-central1/tuningJobs/"

JOBS = [
    {
        "name": PREFIX + "1",
        "tunedModelDisplayName": "alpha-model",
        "description": "first run",
        "baseModel": "gemini-2.5-flash",
        "state": "JOB_STATE_SUCCEEDED",
        "createTime": "2026-11-27T05:00:00.123456789Z",
        "startTime": "2026-11-27T05:00:01Z",
        "endTime": "2026-11-27T05:10:00.5Z",
        "updateTime": "2026-11-27T05:10:00.500Z",
        "labels": {"team": "nlp", "env": "prod"},
    },
    {
        "name": PREFIX + "2",
        "tunedModelDisplayName": "beta",
        "baseModel": "gemini-2.0-flash-001",
        "state": "JOB_STATE_RUNNING",
        "createTime": "2026-11-27T06:00:00Z",
        "startTime": "2026-11-27T06:00:02.000001Z",
        "labels": {"team": "cv", "my key": ""},
    },
    {
        "name": PREFIX + "3",
        "description": "",
        "state": "JOB_STATE_FAILED",
        "createTime": "2026-11-26T23:59:59.999999999Z",
    },
    {"name": PREFIX + "4", "tunedModelDisplayName": 'alpha*"star"', "state": 2},
]


def ids(text: str | None, jobs: list[dict] = JOBS) -> list[int]:
    keep = parse_filter(text)
    return [int(job["name"].rsplit("/", 1)[1]) for job in jobs if keep(job)]


def error(text: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    return caught.value


# --- the empty filter --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_empty_filter_matches_everything(text):
    assert ids(text) == [1, 2, 3, 4]


# --- strings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("display_name = beta", [2]),
        ("display_name=beta", [2]),
        ("display_name != beta", [1, 3, 4]),  # a missing field is != anything
        ("display_name < beta", [1, 4]),
        ("display_name <= beta", [1, 2, 4]),
        ("display_name > alpha-model", [2]),  # by code point: "*" < "-"
        ("display_name >= alpha-model", [1, 2]),
        ("display_name < alpha-model", [4]),
        ("display_name : beta", [2]),  # ":" on a string is "="
        ("display_name:bet", []),
        ("base_model = gemini-2.5-flash", [1]),
        ("description = 'first run'", [1]),
        ('description = ""', [3]),  # present but empty is not missing for "="
        ("description:*", [1]),  # ... but is for ":*"
        ("display_name:*", [1, 2, 4]),
        (f'name = "{PREFIX}2"', [2]),
        ("name:*", [1, 2, 3, 4]),
    ],
)
def test_string_operators(text, expected):
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('display_name:"alpha*"', [1, 4]),  # prefix
        ("display_name = alpha*", [1, 4]),  # "=" takes wildcards too, bare or quoted
        ("display_name != alpha*", [2, 3]),
        ("display_name:*model", [1]),  # suffix
        ('name:"*/3"', [3]),
        ("display_name:*et*", [2]),  # contains
        ("base_model:*flash*", [1, 2]),
        ('display_name = "alpha\\*\\"star\\""', [4]),  # escaped stars are literal
        ('display_name:"alpha\\**"', [4]),  # escaped star then a wildcard
        ("display_name = a*a", []),  # a star inside is literal
        ('display_name = "*"', [1, 2, 4]),  # any present string
    ],
)
def test_wildcards_at_the_ends(text, expected):
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("snake", "camel"),
    [
        ("display_name", "displayName"),
        ("display_name", "tuned_model_display_name"),
        ("display_name", "tunedModelDisplayName"),
        ("base_model", "baseModel"),
        ("create_time", "createTime"),
        ("update_time", "updateTime"),
        ("start_time", "startTime"),
        ("end_time", "endTime"),
    ],
)
def test_snake_and_camel_case_name_the_same_field(snake, camel):
    for rest in (":*", " != x*", ">= 2026-11-27T06:00:00Z", ' = "beta"'):
        try:
            expected = ids(snake + rest)
        except FilterError:  # a string value for a time field
            expected = None
        try:
            assert ids(camel + rest) == expected
        except FilterError:
            assert expected is None


def test_quotes_and_escapes():
    job = {"name": PREFIX + "9", "description": 'it\'s "quoted"\\ here\nand\ttab'}
    for text in (
        r"""description = "it's \"quoted\"\\ here\nand\ttab" """,
        r"""description = 'it\'s "quoted"\\ here\nand\ttab'""",
        r"""description:'it\'s*'""",
    ):
        assert ids(text, [job]) == [9], text
    assert ids("description = 'it s'", [job]) == []


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("labels:team", [1, 2]),
        ("labels:env", [1]),
        ('labels:"my key"', [2]),
        ("labels:*", [1, 2]),  # any label at all
        ("labels:te*", [1, 2]),
        ("labels:nlp", []),  # keys, not values
        ("labels.team = nlp", [1]),
        ("labels.team:nlp", [1]),
        ("labels.team != nlp", [2, 3, 4]),
        ("labels.team:*", [1, 2]),
        ('labels."my key":*', [2]),  # set to "", still there
        ("labels.'my key' = ''", [2]),
        ("labels.team < d", [2]),
        ("labels.missing = x", []),
        ("NOT labels:env", [2, 3, 4]),
    ],
)
def test_labels(text, expected):
    assert ids(text) == expected


# --- state -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("state = JOB_STATE_SUCCEEDED", [1]),
        ("state = SUCCEEDED", [1]),
        ("state = 4", [1]),
        ('state = "JOB_STATE_RUNNING"', [2]),
        ("state = '3'", [2]),
        ("state != FAILED", [1, 2, 4]),
        ("state = PENDING", [4]),  # a job holding the number
        ("state = JOB_STATE_PENDING", [4]),
        ("state = 0", []),
        ("state = UNSPECIFIED", []),
        ("state = PARTIALLY_SUCCEEDED", []),
        ("state = 11", []),
        ("state:*", [1, 2, 3, 4]),
    ],
)
def test_state_names_and_numbers(text, expected):
    assert ids(text) == expected


def test_missing_or_unknown_state_is_unequal_to_everything():
    jobs = [{"name": PREFIX + "7"}, {"name": PREFIX + "8", "state": "JOB_STATE_NEW_IN_2027"}]
    assert ids("state = 0", jobs) == []
    assert ids("state != SUCCEEDED", jobs) == [7, 8]
    assert ids("state:*", jobs) == [8]


# --- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Job 1 was created at 05:00:00.123456789Z, a tie at the nanosecond with these.
        ("create_time = 2026-11-27T05:00:00.123456789Z", [1]),
        ("create_time = 2026-11-27T10:30:00.123456789+05:30", [1]),
        ('create_time = "2026-11-27T00:00:00.123456789-05:00"', [1]),
        ("create_time:2026-11-27T05:00:00.123456789z", [1]),
        ("create_time >= 2026-11-27t05:00:00.123456789Z", [1, 2]),
        ("create_time > 2026-11-27T05:00:00.123456789Z", [2]),
        ("create_time <= 2026-11-27T05:00:00.123456789Z", [1, 3]),
        ("create_time < 2026-11-27T05:00:00.123456789Z", [3]),
        ("create_time != 2026-11-27T05:00:00.123456789Z", [2, 3, 4]),
        # One nanosecond either side: a float would see no difference here.
        ("create_time > 2026-11-27T05:00:00.123456788Z", [1, 2]),
        ("create_time < 2026-11-27T05:00:00.12345679Z", [1, 3]),
        ("create_time = 2026-11-27T05:00:00.12345678Z", []),
        # Fraction digits 0-9 name the same instant.
        ("create_time = 2026-11-27T06:00:00.000000000Z", [2]),
        ("create_time = 2026-11-27T06:00:00.0Z", [2]),
        ("update_time = 2026-11-27T05:10:00.5Z", [1]),
        ("end_time = 2026-11-27T05:10:00.500000000Z", [1]),
        ("start_time > 2026-11-27T06:00:02.000000999Z", [2]),
        ("start_time > 2026-11-27T06:00:02.000001Z", []),
        # Across midnight and the date line.
        ("create_time < 2026-11-27T00:00:00+00:00", [3]),
        ("create_time < 2026-11-26T23:59:59.999999999-00:00", []),
        ("create_time >= 2026-11-27T13:59:59.999999999+14:00", [1, 2, 3]),
        ("create_time:*", [1, 2, 3]),
        ("end_time:*", [1]),
    ],
)
def test_time_comparisons(text, expected):
    assert ids(text) == expected


def test_parse_timestamp_keeps_every_digit():
    base = calendar.timegm((2026, 11, 27, 5, 0, 0)) * 10**9
    assert parse_timestamp("2026-11-27T05:00:00Z") == base
    assert parse_timestamp("2026-11-27T05:00:00.000000001Z") == base + 1
    assert parse_timestamp("2026-11-27T10:30:00.999999999+05:30") == base + 999_999_999
    assert parse_timestamp("2026-11-27T05:00:00.1Z") == base + 100_000_000
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp("0001-01-01T00:00:00Z") == -62135596800 * 10**9
    assert parse_timestamp("2024-02-29T00:00:00Z") is not None


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27",
        "2026-11-27T05:00:00",  # no offset
        "2026-11-27 05:00:00Z",
        "2026-11-27T05:00:00.Z",
        "2026-11-27T05:00:00.1234567891Z",  # ten digits
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T05:60:00Z",
        "2026-11-27T05:00:60Z",
        "2026-11-27T05:00:00+24:00",
        "2026-11-27T05:00:00+05:60",
        "2026-11-27T05:00:00+0530",
        "0000-01-01T00:00:00Z",
        "2026-１１-27T05:00:00Z",  # digits other than ASCII
    ],
)
def test_malformed_timestamps(text):
    assert parse_timestamp(text) is None
    problem = error(f'create_time > "{text}"')
    assert problem.position == 15
    assert "malformed timestamp" in str(problem)


def test_malformed_times_stored_in_a_job_equal_nothing():
    jobs = [{"name": PREFIX + "5", "createTime": "yesterday"}]
    assert ids("create_time < 2030-01-01T00:00:00Z", jobs) == []
    assert ids("create_time != 2030-01-01T00:00:00Z", jobs) == [5]


# --- missing fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("description = x", False),
        ("description != x", True),
        ("description:*", False),
        ("description < zzz", False),
        ("description >= ''", False),
        ("state = 0", False),
        ("state != 0", True),
        ("end_time < 2100-01-01T00:00:00Z", False),
        ("end_time != 2100-01-01T00:00:00Z", True),
        ("labels.team = x", False),
        ("labels.team != x", True),
        ("labels:*", False),
        ("NOT description:*", True),
    ],
)
def test_missing_fields(text, expected):
    assert parse_filter(text)({}) is expected


# --- boolean structure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # OR binds tighter than AND: state=RUNNING AND (labels.team=nlp OR labels.team=cv).
        ("state = RUNNING AND labels.team = nlp OR labels.team = cv", [2]),
        ("(state = RUNNING AND labels.team = nlp) OR labels.team = cv", [2]),
        ("state = SUCCEEDED AND labels.team = nlp OR labels.team = cv", [1]),
        ("labels.team = cv OR labels.team = nlp AND state = SUCCEEDED", [1]),
        ("(labels.team = cv OR labels.team = nlp) AND state = SUCCEEDED", [1]),
        ("labels.team = cv OR (labels.team = nlp AND state = SUCCEEDED)", [1, 2]),
        # Juxtaposition is AND, and OR binds tighter than it too.
        ("state = SUCCEEDED labels.team = nlp", [1]),
        ("labels.team = cv OR labels.team = nlp state = SUCCEEDED", [1]),
        ("state=SUCCEEDED labels.team=nlp", [1]),
        ("state=4(labels:team)", [1]),
        # NOT and "-" take one term.
        ("NOT state = SUCCEEDED", [2, 3, 4]),
        ("-state = SUCCEEDED", [2, 3, 4]),
        ("- state = SUCCEEDED", [2, 3, 4]),
        ("NOT state = SUCCEEDED OR state = RUNNING", [2, 3, 4]),
        ("NOT (state = SUCCEEDED OR state = RUNNING)", [3, 4]),
        ("NOT(state = SUCCEEDED OR state = RUNNING)", [3, 4]),
        ("-(state = SUCCEEDED) -labels:*", [3, 4]),
        ("state = SUCCEEDED OR -labels:*", [1, 3, 4]),
        ("((((labels:team))))", [1, 2]),
        ("labels:team AND (state = 4 OR (state = 3 AND -labels:env))", [1, 2]),
        ("state != 4 AND state != 3 AND state != 5", [4]),
        ("state = 4 OR state = 3 OR state = 5", [1, 2, 3]),
    ],
)
def test_boolean_structure(text, expected):
    assert ids(text) == expected


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("state = ", 9, 'expected a value after "="'),
        ("create_time >", 14, 'expected a value after ">"'),
        ("state = AND", 9, 'expected a value after "="'),
        ("state = (4)", 9, 'expected a value after "="'),
        ("state", 6, "expected a comparison operator"),
        ("state 4", 7, "expected a comparison operator"),
        ("state == 4", 7, 'unknown operator "=="'),
        ("state => 4", 7, 'unknown operator "=>"'),
        ("state <> 4", 7, 'unknown operator "<>"'),
        ("state ! 4", 7, 'unknown operator "!"'),
        ("state ~ 4", 7, 'unexpected character "~"'),
        ("state = 4 AND", 14, 'after "AND", found end of filter'),
        ("state = 4 OR", 13, 'after "OR", found end of filter'),
        ("AND state = 4", 1, 'found "AND"'),
        ("state = 4 OR AND state = 3", 14, 'after "OR", found "AND"'),
        ("NOT", 4, 'after "NOT"'),
        ("NOT NOT state = 4", 5, 'after "NOT", found "NOT"'),
        ("state = 4 -", 12, 'after "-"'),
        ("(state = 4", 11, 'expected ")" to close the "(" at character 1'),
        ("((state = 4)", 13, 'expected ")" to close the "(" at character 1'),
        ("state = 4)", 10, '")" without a matching "("'),
        ("(state = 4))", 12, '")" without a matching "("'),
        (")", 1, 'expected a field name or "(", found ")"'),
        ("()", 1, "empty parentheses"),
        ("state = 4 AND ( )", 15, "empty parentheses"),
        ('state = "4', 9, "never closed"),
        ("state = '4\\'", 9, "never closed"),
        ('description = "a\\qb"', 17, 'unknown escape "\\\\q"'),
        ('"state" = 4', 1, "expected a field name"),
        ("state = 4 = 3", 11, "expected a field name"),
        ("state = 4 'x'", 11, "expected a field name"),
        ("colour = red", 1, 'unknown field "colour"'),
        ("Create_time:*", 1, 'unknown field "Create_time"'),
        ("state = 4 and state = 3", 11, "AND, OR and NOT are upper case"),
        ("labels.team.x = 1", 1, 'unknown field "labels.team.x"'),
        ("state.x = 1", 1, 'unknown field "state.x"'),
        ("labels . team = x", 8, "expected a comparison operator"),
        ("labels. team = x", 9, 'expected a field name after ".", found "team"'),
        ("labels = x", 8, '"labels" takes only ":"'),
        ("labels != x", 8, '"labels" takes only ":"'),
        ("state = BOGUS", 9, 'unknown state "BOGUS"'),
        ("state = succeeded", 9, "unknown state"),
        ("state = 12", 9, "unknown state"),
        ("state = SUCC*", 9, "unknown state"),
        ("state < 4", 7, '"state" takes only "=" and "!="'),
        ("state : 4", 7, '"state" takes only "=" and "!="'),
        ("create_time > yesterday", 15, "malformed timestamp"),
        ("create_time = 2026-11-27T05:00:00Z*", 15, "malformed timestamp"),
        ("display_name < b*", 16, 'wildcard "*" works only with'),
        ("display_name = a/b", 17, 'unexpected character "/"'),
        ("state = 4 & state = 3", 11, 'unexpected character "&"'),
    ],
)
def test_malformed_filters_name_the_problem_and_position(text, position, fragment):
    problem = error(text)
    assert problem.position == position, str(problem)
    message = str(problem)
    assert message.startswith(f"invalid filter at character {position}: "), message
    assert fragment in message, message
    assert "\n" not in message


def test_deep_nesting_is_an_error_not_a_crash():
    assert ids("(" * 64 + "state = 4" + ")" * 64) == [1]
    problem = error("(" * 65 + "state = 4" + ")" * 65)
    assert problem.position == 65
    assert "nested more than 64 deep" in str(problem)
    assert error("-(" * 10_000).position == 130  # the 65th "("


def test_filter_error_is_a_value_error_that_pickles():
    problem = error("state = ")
    assert isinstance(problem, ValueError)
    again = pickle.loads(pickle.dumps(problem))
    assert (again.position, again.problem, str(again)) == (
        problem.position,
        problem.problem,
        str(problem),
    )


def test_message_stays_on_one_line_whatever_the_filter_holds():
    message = str(error('state = 4\n\u2028 "a\nb\u2028c\x85"'))
    assert len(message.splitlines()) == 1, message
    assert "\\u2028" in message


# --- property: a random tree of terms filters as Python evaluates it ---------------------------

BASE_NS = calendar.timegm((2026, 11, 27, 5, 0, 0)) * 10**9
INSTANTS = [BASE_NS + delta for delta in (0, 1, 999, 10**9, -1, 3600 * 10**9)]
TEXTS = ["", "a", "ab", "abc", "b", "ba", "a b", 'q"t', "x-1.2"]
STATE_NAMES = ["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]
STATE_NUMBERS = {"JOB_STATE_QUEUED": 1, "JOB_STATE_RUNNING": 3, "JOB_STATE_SUCCEEDED": 4}
LABEL_KEYS = ["team", "env", "my key"]
DISPLAY_ALIASES = ["display_name", "displayName", "tuned_model_display_name"]
TIME_FIELDS = {"create_time": "createTime", "updateTime": "updateTime"}
BARE = re.compile(r"[A-Za-z0-9_.:+*-]+")


def render_instant(ns: int, offset_minutes: int, digits: int) -> str:
    """RFC 3339 text for an instant, written independently of the parser under test."""
    seconds, fraction = divmod(ns, 10**9)
    local = datetime.fromtimestamp(seconds, timezone(timedelta(minutes=offset_minutes)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    fraction_text = f"{fraction:09d}"[:digits]
    if int(fraction_text.ljust(9, "0") or "0") != fraction:
        fraction_text = f"{fraction:09d}"  # too few digits would change the instant
    if fraction_text:
        text += "." + fraction_text
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def quoted(text: str, quote: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("*", "\\*")
    return quote + escaped + quote


@st.composite
def value_text(draw, core: str, wild_start: bool = False, wild_end: bool = False) -> str:
    """A value as a filter writes it: bare where it can be, else quoted; stars at the ends."""
    start, end = "*" * wild_start, "*" * wild_end
    bare = start + core + end
    if BARE.fullmatch(bare) and core not in ("AND", "OR", "NOT") and draw(st.booleans()):
        return bare
    quote = draw(st.sampled_from(['"', "'"]))
    return quote + start + quoted(core, quote)[1:-1] + end + quote


# Jobs as the emulator stores them: times in Z with 0, 3, 6 or 9 digits, any field left out.
jobs = st.fixed_dictionaries(
    {"name": st.just(PREFIX + "1")},
    optional={
        "state": st.sampled_from(STATE_NAMES),
        "tunedModelDisplayName": st.sampled_from(TEXTS),
        **{
            key: st.builds(
                render_instant, st.sampled_from(INSTANTS), st.just(0), st.sampled_from([0, 3, 6, 9])
            )
            for key in TIME_FIELDS.values()
        },
        "labels": st.dictionaries(
            st.sampled_from(LABEL_KEYS), st.sampled_from(["", "nlp", "cv"]), max_size=3
        ),
    },
)


def string_matches(value: str, core: str, wild_start: bool, wild_end: bool) -> bool:
    if wild_start and wild_end:
        return core in value
    if wild_start:
        return value.endswith(core)
    if wild_end:
        return value.startswith(core)
    return value == core


ORDER = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def spaced(draw, field: str, op: str, value: str) -> str:
    gap = draw(st.sampled_from(["", " "]))
    return f"{field}{gap}{op}{gap}{value}"


@st.composite
def terms(draw) -> tuple[str, object]:
    """(filter text, reference predicate) for one restriction."""
    kind = draw(st.sampled_from(["state", "string", "time", "label", "labels", "presence"]))
    if kind == "state":
        name = draw(st.sampled_from([*STATE_NAMES, "JOB_STATE_FAILED"]))
        number = STATE_NUMBERS.get(name, 5)
        written = draw(st.sampled_from([name, name.removeprefix("JOB_STATE_"), str(number)]))
        op = draw(st.sampled_from(["=", "!="]))

        def check(job, name=name, op=op):
            state = job.get("state")
            return op == "!=" if state is None else (state == name) == (op == "=")

        return spaced(draw, "state", op, written), check
    if kind == "string":
        field = draw(st.sampled_from(DISPLAY_ALIASES))
        op = draw(st.sampled_from(["=", "!=", ":", "<", "<=", ">", ">="]))
        core = draw(st.sampled_from(TEXTS))
        wild = op in ("=", "!=", ":") and draw(st.booleans())
        wild_start, wild_end = (draw(st.booleans()), draw(st.booleans())) if wild else (0, 0)
        if op == ":" and not core:
            wild_start = wild_end = False  # ":*" is presence, covered below
        written = draw(value_text(core, wild_start, wild_end))

        def check(job, op=op, core=core, wild_start=wild_start, wild_end=wild_end):
            value = job.get("tunedModelDisplayName")
            if value is None:
                return op == "!="
            if op in ("=", ":", "!="):
                return string_matches(value, core, wild_start, wild_end) == (op != "!=")
            return ORDER[op](value, core)

        return spaced(draw, field, op, written), check
    if kind == "time":
        field = draw(st.sampled_from(sorted(TIME_FIELDS)))
        op = draw(st.sampled_from(["=", "!=", ":", "<", "<=", ">", ">="]))
        ns = draw(st.sampled_from(INSTANTS))
        offset = draw(st.sampled_from([0, 330, -300, 840, -720]))
        written = render_instant(ns, offset, draw(st.integers(0, 9)))
        if draw(st.booleans()):
            written = f'"{written}"'

        def check(job, key=TIME_FIELDS[field], op=op, ns=ns):
            stored = job.get(key)
            if stored is None:
                return op == "!="
            return ORDER["=" if op == ":" else op](parse_reference_time(stored), ns)

        return spaced(draw, field, op, written), check
    if kind == "label":
        key = draw(st.sampled_from(LABEL_KEYS))
        field = "labels." + (key if " " not in key else quoted(key, '"'))
        op = draw(st.sampled_from(["=", "!=", ":"]))
        value = draw(st.sampled_from(["", "nlp", "cv"]))
        written = draw(value_text(value))

        def check(job, key=key, op=op, value=value):
            labels = job.get("labels", {})
            if key not in labels:
                return op == "!="
            return (labels[key] == value) == (op != "!=")

        return spaced(draw, field, op, written), check
    if kind == "labels":
        core = draw(st.sampled_from(["team", "env", "my key", "te", "e", ""]))
        wild_end = draw(st.booleans()) or not core
        written = draw(value_text(core, False, wild_end))

        def check(job, core=core, wild_end=wild_end):
            return any(string_matches(k, core, False, wild_end) for k in job.get("labels", {}))

        return spaced(draw, "labels", ":", written), check
    field, key = draw(
        st.sampled_from(
            [
                ("state", "state"),
                ("display_name", "tunedModelDisplayName"),
                ("create_time", "createTime"),
            ]
        )
    )
    return spaced(draw, field, ":", "*"), lambda job, key=key: job.get(key) not in (None, "")


def parse_reference_time(text: str) -> int:
    """Stored times are always Z with 0-9 digits (see jobs()); read them without the parser."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").timetuple())
    return seconds * 10**9 + int(fraction.ljust(9, "0") or "0")


def display_name(job: dict) -> str | None:
    return job.get("tunedModelDisplayName")


def labels(job: dict) -> dict:
    return job.get("labels", {})


def time_at(job: dict, key: str) -> int | None:
    return parse_reference_time(job[key]) if key in job else None


# Cheap leaves for the trees (test_single_term_filters_like_python covers the term variety).
SIMPLE_TERMS = [
    ("state = SUCCEEDED", lambda job: job.get("state") == "JOB_STATE_SUCCEEDED"),
    ("state != 3", lambda job: job.get("state") != "JOB_STATE_RUNNING"),
    ("labels:team", lambda job: "team" in labels(job)),
    ("labels.env = nlp", lambda job: labels(job).get("env") == "nlp"),
    ('labels."my key":*', lambda job: "my key" in labels(job)),
    ("display_name:a*", lambda job: (display_name(job) or "").startswith("a")),
    ("displayName < b", lambda job: display_name(job) is not None and display_name(job) < "b"),
    (
        f"create_time >= {render_instant(INSTANTS[1], 330, 9)}",
        lambda job: (time_at(job, "createTime") or 0) >= INSTANTS[1],
    ),
    (
        f"updateTime<{render_instant(INSTANTS[3], -300, 0)}",
        lambda job: (time_at(job, "updateTime") or INSTANTS[3]) < INSTANTS[3],
    ),
    ("create_time:*", lambda job: "createTime" in job),
]

# A tree is ("term", text, check) | ("NOT" | "-", child) | ("AND" | "OR" | "SEQ", left, right).
trees = st.recursive(
    st.sampled_from(SIMPLE_TERMS).map(lambda term: ("term", *term)),
    lambda children: st.one_of(
        st.tuples(st.sampled_from(["NOT", "-"]), children),
        st.tuples(st.sampled_from(["AND", "OR", "SEQ"]), children, children),
    ),
    max_leaves=12,
)


def evaluate(tree, job: dict) -> bool:
    kind = tree[0]
    if kind == "term":
        return tree[2](job)
    if kind in ("NOT", "-"):
        return not evaluate(tree[1], job)
    left, right = evaluate(tree[1], job), evaluate(tree[2], job)
    return left or right if kind == "OR" else left and right


JOINERS = {"AND": " AND ", "OR": " OR ", "SEQ": " "}


def render_parenthesized(tree) -> str:
    kind = tree[0]
    if kind == "term":
        return tree[1]
    if kind in ("NOT", "-"):
        child = render_parenthesized(tree[1])
        child = child if tree[1][0] == "term" else f"({child})"
        return ("NOT " if kind == "NOT" else "-") + child
    return f"({render_parenthesized(tree[1])}{JOINERS[kind]}{render_parenthesized(tree[2])})"


# AIP-160 binding strength, loosest first: AND, juxtaposition, OR, then NOT/- and terms.
LEVEL = {"AND": 0, "SEQ": 1, "OR": 2, "NOT": 3, "-": 3, "term": 4}


def render_minimal(tree) -> str:
    """Only the parentheses the precedence rules need, so the parser's precedence is tested."""
    kind = tree[0]
    if kind == "term":
        return tree[1]
    if kind in ("NOT", "-"):
        child = render_minimal(tree[1])
        child = child if tree[1][0] == "term" else f"({child})"
        return ("NOT " if kind == "NOT" else "-") + child

    def side(child, lowest: int) -> str:
        text = render_minimal(child)
        return text if LEVEL[child[0]] >= lowest else f"({text})"

    level = LEVEL[kind]
    return side(tree[1], level) + JOINERS[kind] + side(tree[2], level + 1)


@settings(max_examples=150, deadline=None)
@given(tree=trees, job_list=st.lists(jobs, min_size=4, max_size=8))
def test_tree_filters_like_python(tree, job_list):
    expected = [evaluate(tree, job) for job in job_list]
    for text in (render_parenthesized(tree), render_minimal(tree)):
        keep = parse_filter(text)
        assert [keep(job) for job in job_list] == expected, text


@settings(max_examples=100, deadline=None)
@given(term=terms(), job_list=st.lists(jobs, min_size=4, max_size=8))
def test_single_term_filters_like_python(term, job_list):
    text, check = term
    keep = parse_filter(text)
    assert [keep(job) for job in job_list] == [check(job) for job in job_list], text
