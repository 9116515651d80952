"""Deterministic generator of realistic tuning datasets, of any size.

    python benchmarks/generate.py OUT --size 50MB [--format gemini|openai-chat]
                                  [--shared-system] [--function-calls] [--seed 0]

Writes JSONL records one at a time (the file is never held in memory) until the file reaches
``--size`` (``KB``/``MB``/``GB`` are powers of 1000, ``KiB``/``MiB``/``GiB`` of 1024). The same
seed and options give the same bytes, and a smaller file is a prefix of a larger one.

What a record looks like (every random choice comes from one seeded ``random.Random``):

- 1 to 6 exchanges: ``user`` then ``model`` turns alternating, ending with ``model``;
  now and then a turn has two text parts;
- text lengths drawn from a lognormal distribution (a long tail of long turns), made of English
  prose built from a word list, Python code blocks, CJK sentences and emoji;
- a ``systemInstruction`` on about 40% of records, or, with ``--shared-system``, one of five long
  shared system instructions on about 90% of records plus a shared few-shot prefix (two fixed
  exchanges) on about 70%, so identical texts repeat throughout the file;
- with ``--function-calls`` (Gemini only), about 30% of records also declare ``tools`` (1 to 3
  function declarations with parameter schemas) and have 1 or 2 rounds of function calling: a
  ``model`` turn with one or two ``functionCall`` parts, then a ``user`` turn with the matching
  ``functionResponse`` parts, then the model's text answer. Without the option the output is
  byte for byte what it was before the option existed (the option draws its random numbers
  only when it is on);
- every example stays far below the 131,072-token limit (at most ``MAX_EXAMPLE_CHARS`` code
  points of text, mostly prose), so no example is dropped and every counting path agrees.

For tests: :func:`records` returns a few records as dicts, :func:`write_dataset` writes a file.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections.abc import Iterator
from typing import Any

FORMATS = ("gemini", "openai-chat")
MAX_TEXT_CHARS = 12_000  # one text part
MAX_EXAMPLE_CHARS = 40_000  # all texts of one example (system and few-shot prefix included)

_COMMON_WORDS = """
the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there would their we him been has when who will more no if out so
said what up its about into than them can only other new some could time these two may then do
first any my now such like our over man me even most made after also did many before must
through back years where much your way well down should because each just those people how too
little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go
came right used take three data model training dataset token example input output value function
return error result request response user system service cloud storage bucket region project
latency throughput memory process file line record field schema format parse validate count
report batch stream shard merge accumulate distribution median percentile histogram bucket
question answer summary translate explain describe compare analyse improve review suggest
customer order invoice payment account policy contract clause section paragraph document table
patient symptom diagnosis treatment dose clinical study trial result evidence guideline
weather forecast temperature rainfall pressure wind season climate river mountain valley city
recipe flour sugar butter oven minutes bake mix stir serve fresh garden tomato basil olive
"""
WORDS = _COMMON_WORDS.split()

_SYLLABLES = """
ab ac ad al am an ar as at ba be bi bo bu ca ce ci co cu da de di do du el em en er es et fa fe
fi fo ga ge gi go gra gri ha he hi ho hu ia ic id il im in io ir is it ka ke ki ko la le li lo lu
ma me mi mo mu na ne ni no nu ob ol om on or os ot pa pe pi po pro qua ra re ri ro ru sa se si so
str su ta te ti to tra tri tu ul um un ur us va ve vi vo xa ye za ze zo tion ment ness able ing
"""
SYLLABLES = _SYLLABLES.split()


def _vocabulary(slots: int) -> list[str]:
    """The word list, then 30,000 rarer made-up words, Zipf-weighted, as a table of ``slots``.

    Real prose draws most words from a small common set and the rest from a long tail of rare
    words that a BPE tokenizer splits into several tokens; both shapes matter for its speed.
    A word appears in the table in proportion to its weight (at least once; the rarest words
    fall off the end), so a uniform choice from the table is a weighted choice of words,
    without a bisection per word.
    """
    rng = random.Random(7)
    rare = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 5))) for _ in range(30_000)}
    words = list(dict.fromkeys(WORDS)) + sorted(rare - set(WORDS))
    common = len(dict.fromkeys(WORDS))
    weights = [RARE_SHARE ** (rank >= common) / (rank + 2.7) for rank in range(len(words))]
    scale = slots / sum(weights)
    table: list[str] = []
    for word, weight in zip(words, weights):
        table.extend([word] * max(1, round(weight * scale)))
    return table[:slots] + [words[0]] * (slots - len(table))


RARE_SHARE = 0.15  # weight factor of the made-up words: about 1 word in 8 is rare
VOCABULARY_BITS = 20
VOCABULARY = _vocabulary(1 << VOCABULARY_BITS)  # a word is VOCABULARY[getrandbits(20)]

CJK_SENTENCES = [
    "这是一个用于测试的中文句子。",
    "我们需要在提交调优任务之前检查数据集的统计信息。",
    "模型的输出应该简洁明了，并且符合用户的要求。",
    "今天天气很好，我们去公园散步吧。",
    "日本語の文章もデータセットに含まれています。",
    "このモデルは質問に丁寧に答える必要があります。",
    "東京の天気は明日雨になるでしょう。",
    "한국어 문장도 가끔 나타납니다.",
    "데이터 세트의 토큰 수를 정확하게 계산해야 합니다.",
    "请把下面的段落翻译成英文，并保留原来的格式。",
]

EMOJI = [
    "😀",
    "🎉",
    "👍",
    "🚀",
    "🔥",
    "✅",
    "❌",
    "💡",
    "📊",
    "🤖",
    "🙏",
    "❤️",
    "👨‍💻",
    "🇯🇵",
    "🌧️",
    "☕",
    "📈",
    "🧪",
]

CODE_TEMPLATES = [
    'def {f}({a}, {b}):\n    """{doc}"""\n    if {a} is None:\n        return {b}\n'
    "    return [{b} * x for x in {a} if x > {n}]\n",
    'for {a} in range({n}):\n    {b} = {f}({a})\n    print(f"{{{a}}}: {{{b}}}")\n',
    "class {F}:\n    def __init__(self, {a}: int = {n}) -> None:\n        self.{a} = {a}\n\n"
    "    def {f}(self) -> int:\n        return self.{a} + {n}\n",
    "SELECT {a}, COUNT(*) AS {b}\nFROM {f}\nWHERE {a} > {n}\nGROUP BY {a}\nORDER BY {b} DESC;\n",
    "const {f} = async ({a}) => {{\n  const {b} = await fetch(`/api/{a}/${{{a}}}`);\n"
    "  return {b}.json();\n}};\n",
]

LANGUAGES = {0: "python", 1: "python", 2: "python", 3: "sql", 4: "javascript"}

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str) -> int:
    """``"50MB"`` -> 50_000_000, ``"5GB"`` -> 5_000_000_000, ``"1MiB"`` -> 1_048_576."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 50MB, 5GB, 100MiB, 12345)")
    return int(float(match.group(1)) * _UNITS[unit])


class TextMaker:
    """Realistic text from one seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def length(self, median: float, sigma: float = 1.2, cap: int = MAX_TEXT_CHARS) -> int:
        """A lognormal length in code points: most texts short, a long tail of long ones."""
        return max(8, min(cap, int(self.rng.lognormvariate(math.log(median), sigma))))

    def sentence(self) -> str:
        rng = self.rng
        bits = rng.getrandbits
        words = [VOCABULARY[bits(VOCABULARY_BITS)] for _ in range(4 + bits(5) % 19)]
        words[0] = words[0].capitalize()
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 10_000)))
        if rng.random() < 0.08:
            words.append(rng.choice(EMOJI))
        return " ".join(words) + rng.choice("....?!")

    def prose(self, chars: int) -> str:
        parts: list[str] = []
        size = 0
        while size < chars:
            sentence = self.sentence()
            parts.append(sentence)
            size += len(sentence) + 1
            if self.rng.random() < 0.12:
                parts.append("\n\n")
        return " ".join(parts).replace(" \n\n ", "\n\n")

    def code_block(self) -> str:
        rng = self.rng
        index = rng.randrange(len(CODE_TEMPLATES))
        names = rng.sample(WORDS, 4)
        body = CODE_TEMPLATES[index].format(
            f=f"{names[0]}_{names[1]}",
            F=names[2].capitalize() + names[3].capitalize(),
            a=names[2],
            b=names[3],
            n=rng.randint(0, 999),
            doc=self.sentence(),
        )
        return f"```{LANGUAGES[index]}\n{body}```"

    def cjk(self) -> str:
        return "".join(self.rng.choices(CJK_SENTENCES, k=self.rng.randint(1, 6)))

    def text(self, median: float) -> str:
        """A turn: mostly prose, sometimes with a code block, CJK sentences or emoji."""
        rng = self.rng
        target = self.length(median)
        pieces = [self.prose(target)]
        roll = rng.random()
        if roll < 0.15:
            pieces.append(self.code_block())
            if rng.random() < 0.5:
                pieces.append(self.prose(self.length(median / 3)))
        elif roll < 0.25:
            pieces.append(self.cjk())
        elif roll < 0.30:
            pieces.insert(0, "".join(rng.choices(EMOJI, k=rng.randint(1, 5))))
        return "\n\n".join(pieces)


def _shared_texts() -> tuple[list[str], list[tuple[str, str]]]:
    """Five long system instructions and a two-exchange few-shot prefix, fixed for every seed."""
    maker = TextMaker(random.Random(20240501))
    systems = [
        f"You are assistant #{i}. " + maker.prose(maker.rng.randint(1500, 4000)) for i in range(5)
    ]
    few_shot = [(maker.text(300), maker.text(600)) for _ in range(2)]
    return systems, few_shot


def _turns(
    maker: TextMaker, few_shot: list[tuple[str, str]] | None, budget: int
) -> list[tuple[str, str]]:
    """1 to 6 exchanges after the few-shot prefix, within ``budget`` code points."""
    rng = maker.rng
    turns = list(few_shot) if few_shot else []
    budget -= sum(len(u) + len(m) for u, m in turns)
    for _ in range(rng.randint(1, 6)):
        user, model = maker.text(180), maker.text(450)
        if len(user) + len(model) > budget and turns:
            break
        turns.append((user[:budget], model[: max(1, budget - len(user))]))
        budget -= len(user) + len(model)
    return turns


def _record(
    maker: TextMaker,
    fmt: str,
    system: str | None,
    turns: list[tuple[str, str]],
) -> dict[str, Any]:
    rng = maker.rng
    if fmt == "openai-chat":
        messages = [{"role": "system", "content": system}] if system else []
        for user, model in turns:
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": model})
        return {"messages": messages}
    contents = []
    for user, model in turns:
        for role, text in (("user", user), ("model", model)):
            cut = text.find("\n\n", len(text) // 2)
            if rng.random() < 0.1 and cut > 0:  # now and then, two text parts
                parts = [{"text": text[:cut]}, {"text": text[cut:]}]
            else:
                parts = [{"text": text}]
            contents.append({"role": role, "parts": parts})
    record: dict[str, Any] = {}
    if system:
        record["systemInstruction"] = {"parts": [{"text": system}]}
    record["contents"] = contents
    return record


# --- function calling (--function-calls) ---------------------------------------------------

FUNCTION_CALL_SHARE = 0.3  # of records, with --function-calls


def _string_schema(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _object_schema(
    properties: dict[str, Any], required: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An object schema; ``extra`` fields (title, description) come before its properties."""
    schema = {"type": "object", **extra, "properties": properties}
    if required is not None:
        schema["required"] = required
    return schema


# Fixed declarations, shared by every seed: the tools of a record are 1 to 3 of them. Between
# them they use every schema field google-genai's LocalTokenizer counts (format, description,
# enum, required, properties, items, example) and some it does not (type, title, default).
FUNCTION_DECLARATIONS: list[dict[str, Any]] = [
    {
        "name": "get_weather_forecast",
        "description": "Get the weather forecast for a city for the next few days.",
        "parameters": _object_schema(
            {
                "city": _string_schema("The city name, for example Zurich or Osaka."),
                "days": {"type": "integer", "description": "How many days, 1 to 10.", "default": 3},
                "unit": _string_schema("Temperature unit.", enum=["celsius", "fahrenheit"]),
            },
            ["city"],
        ),
        "response": _object_schema(
            {
                "forecast": {
                    "type": "array",
                    "items": _object_schema(
                        {
                            "date": _string_schema("Day of the forecast.", format="date"),
                            "temperature": {"type": "number"},
                            "summary": _string_schema("One line about the weather."),
                        }
                    ),
                }
            }
        ),
    },
    {
        "name": "search_orders",
        "description": "Search the customer's orders by status and date range.",
        "parameters": _object_schema(
            {
                "customer_id": _string_schema("The customer's account id.", example="C-10442"),
                "status": _string_schema(
                    "Order status.", enum=["open", "shipped", "delivered", "cancelled"]
                ),
                "since": _string_schema("Earliest order date.", format="date"),
                "limit": {"type": "integer", "description": "At most this many orders."},
            },
            ["customer_id", "status"],
            title="OrderQuery",
        ),
    },
    {
        "name": "create_invoice",
        "description": "Create an invoice for an account with one or more line items.",
        "parameters": _object_schema(
            {
                "account": _string_schema("Account to bill."),
                "currency": _string_schema("ISO 4217 code.", enum=["EUR", "USD", "JPY", "CHF"]),
                "items": {
                    "type": "array",
                    "description": "The line items.",
                    "items": _object_schema(
                        {
                            "description": _string_schema("What is billed."),
                            "quantity": {"type": "integer"},
                            "unit_price": {"type": "number", "format": "double"},
                        },
                        ["description", "quantity"],
                    ),
                },
                "send_email": {"type": "boolean", "description": "Mail it to the customer."},
            },
            ["account", "items"],
        ),
    },
    {
        "name": "run_sql_query",
        "description": "Run a read-only SQL query on the analytics warehouse.",
        "parameters": _object_schema(
            {
                "query": _string_schema("The SQL statement."),
                "dataset": _string_schema("Dataset to query.", enum=["sales", "events", "ops"]),
                "max_rows": {"type": "integer", "format": "int32"},
            },
            ["query"],
        ),
    },
    {
        "name": "lookup_patient_record",
        "description": "Look up a patient's record by id; returns symptoms and treatments.",
        "parameters": _object_schema(
            {
                "patient_id": _string_schema("The patient's id."),
                "fields": {
                    "type": "array",
                    "description": "Fields to return.",
                    "items": _string_schema(
                        "A field.", enum=["symptoms", "diagnosis", "treatment", "dose"]
                    ),
                },
            },
            ["patient_id"],
        ),
    },
    {
        "name": "translate_text",
        "description": "Translate a text into another language, keeping its formatting.",
        "parameters": _object_schema(
            {
                "text": _string_schema("The text to translate."),
                "target_language": _string_schema("Language code.", enum=["en", "ja", "zh", "ko"]),
                "formal": {"type": "boolean"},
            },
            ["text", "target_language"],
        ),
    },
    {
        "name": "schedule_meeting",
        "description": "Schedule a meeting with attendees at a given time.",
        "parameters": _object_schema(
            {
                "title": _string_schema("Meeting title."),
                "start": _string_schema("Start time.", format="date-time"),
                "duration_minutes": {"type": "integer", "default": 30},
                "attendees": {"type": "array", "items": _string_schema("An e-mail address.")},
                "location": _object_schema(
                    {"room": _string_schema("Room name."), "city": _string_schema("City.")},
                    description="Where the meeting is.",
                ),
            },
            ["title", "start", "attendees"],
        ),
    },
    {
        "name": "get_exchange_rate",
        "description": "The exchange rate between two currencies on a date.",
        "parameters": _object_schema(
            {
                "base": _string_schema("From this currency.", enum=["EUR", "USD", "JPY"]),
                "quote": _string_schema("To this currency.", enum=["EUR", "USD", "JPY"]),
                "date": _string_schema("The date.", format="date"),
            },
            ["base", "quote"],
        ),
    },
]


class CallMaker:
    """Function calls, their arguments and responses, from the record's random source."""

    def __init__(self, maker: TextMaker) -> None:
        self.maker = maker
        self.rng = maker.rng

    def words(self, low: int, high: int) -> str:
        bits = self.rng.getrandbits
        return " ".join(
            VOCABULARY[bits(VOCABULARY_BITS)] for _ in range(self.rng.randint(low, high))
        )

    def value(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A value of ``schema``: enum items, dates, numbers, short strings, lists, objects."""
        rng = self.rng
        kind = schema.get("type", "string")
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if kind == "integer":
            return rng.randint(0, 5000)
        if kind == "number":
            return round(rng.uniform(-40, 4000), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "array":
            return [self.value(schema["items"], depth + 1) for _ in range(rng.randint(1, 4))]
        if kind == "object":
            required = schema.get("required", [])
            return {
                key: self.value(sub, depth + 1)
                for key, sub in schema.get("properties", {}).items()
                if key in required or rng.random() < 0.6
            }
        fmt = schema.get("format")
        if fmt in ("date", "date-time"):
            date = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            return date if fmt == "date" else f"{date}T{rng.randint(7, 18):02d}:00:00Z"
        return self.words(1, 6)

    def response(self, declaration: dict[str, Any]) -> dict[str, Any]:
        """What the function returned: its response schema's shape, or a generic result."""
        rng = self.rng
        if "response" in declaration and rng.random() < 0.8:
            return self.value(declaration["response"])
        rows = [
            {"id": f"{rng.choice(WORDS)}-{rng.randint(100, 99999)}", "value": self.value({})}
            | ({"amount": round(rng.uniform(1, 900), 2)} if rng.random() < 0.5 else {})
            for _ in range(rng.randint(0, 5))
        ]
        result: dict[str, Any] = {"status": rng.choice(["ok", "ok", "ok", "partial", "error"])}
        if rows:
            result["rows"] = rows
        if rng.random() < 0.6:
            result["summary"] = self.maker.prose(self.maker.length(200, cap=2000))
        if rng.random() < 0.2:
            result["next_page_token"] = None
        return result

    def add_calls(self, record: dict[str, Any]) -> None:
        """Tools, and 1 or 2 rounds of calls, each before one of the record's model turns."""
        rng = self.rng
        declarations = rng.sample(FUNCTION_DECLARATIONS, rng.randint(1, 3))
        contents = record["contents"]
        exchanges = len(contents) // 2
        rounds = sorted(rng.sample(range(exchanges), min(exchanges, 1 + (rng.random() < 0.2))))
        for exchange in reversed(rounds):  # from the end, so the earlier indices stay put
            called = [rng.choice(declarations) for _ in range(1 + (rng.random() < 0.25))]
            calls = [{"name": d["name"], "args": self.value(d["parameters"])} for d in called]
            model_parts: list[dict[str, Any]] = []
            if rng.random() < 0.3:
                model_parts.append({"text": self.maker.sentence()})
            model_parts.extend({"functionCall": call} for call in calls)
            user_parts = [
                {"functionResponse": {"name": d["name"], "response": self.response(d)}}
                for d in called
            ]
            at = 2 * exchange + 1  # the model turn that answers after the calls
            contents[at:at] = [
                {"role": "model", "parts": model_parts},
                {"role": "user", "parts": user_parts},
            ]
        record["tools"] = [{"functionDeclarations": declarations}]


def iter_records(
    seed: int = 0, fmt: str = "gemini", shared_system: bool = False, function_calls: bool = False
) -> Iterator[dict[str, Any]]:
    """An endless, deterministic stream of records."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if function_calls and fmt != "gemini":
        raise ValueError("function calls are generated for the gemini format only")
    maker = TextMaker(random.Random(seed))
    rng = maker.rng
    calls = CallMaker(maker)
    systems, few_shot = _shared_texts() if shared_system else ([], [])
    while True:
        prefix = None
        if shared_system:
            system = rng.choice(systems) if rng.random() < 0.9 else None
            prefix = few_shot if rng.random() < 0.7 else None
        else:
            system = maker.text(250) if rng.random() < 0.4 else None
        budget = MAX_EXAMPLE_CHARS - len(system or "")
        record = _record(maker, fmt, system, _turns(maker, prefix, budget))
        # Only with the option does this draw from rng: without it the stream is unchanged.
        if function_calls and rng.random() < FUNCTION_CALL_SHARE:
            calls.add_calls(record)
        yield record


def records(
    n: int,
    seed: int = 0,
    fmt: str = "gemini",
    shared_system: bool = False,
    function_calls: bool = False,
) -> list[dict[str, Any]]:
    """The first ``n`` records of :func:`iter_records` (small, for tests)."""
    stream = iter_records(seed, fmt, shared_system, function_calls)
    return [next(stream) for _ in range(n)]


def write_dataset(
    path: str,
    size: int,
    seed: int = 0,
    fmt: str = "gemini",
    shared_system: bool = False,
    function_calls: bool = False,
) -> tuple[int, int]:
    """Write records to ``path`` until it holds at least ``size`` bytes; return (records, bytes)."""
    count = written = 0
    with open(path, "wb", buffering=1 << 20) as out:
        for record in iter_records(seed, fmt, shared_system, function_calls):
            if written >= size:
                break
            line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
            out.write(line)
            written += len(line)
            count += 1
    return count, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the JSONL file to write")
    parser.add_argument("--size", default="50MB", help="about this many bytes (50MB, 5GB, ...)")
    parser.add_argument("--format", default="gemini", choices=FORMATS)
    parser.add_argument("--shared-system", action="store_true", help="repeat shared prefixes")
    parser.add_argument(
        "--function-calls",
        action="store_true",
        help="about 30%% of records with tools, functionCall and functionResponse parts (gemini)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        size = parse_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    if args.function_calls and args.format != "gemini":
        parser.error("--function-calls needs --format gemini")
    count, written = write_dataset(
        args.out, size, args.seed, args.format, args.shared_system, args.function_calls
    )
    print(f"{args.out}: {count} records, {written / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
