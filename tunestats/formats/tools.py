"""Tools: function calls and tools as google-genai's LocalTokenizer counts them (SPEC §2 [G]).

google/genai/local_tokenizer.py, _TextsAccumulator: every name, key and string value is a text
of its own; numbers, booleans and nulls count nothing. Where that code would fail on a value
of the wrong type (a number in ``enum``, a list as ``args``), the strings found are counted.

Hands to the gemini format the texts of a functionCall or functionResponse part and of a
record's ``tools``: pieces counted as tokens only, without characters.
"""

from __future__ import annotations

from typing import Any

from .common import _get


def value_texts(value: Any, out: list[str]) -> None:
    """_any_traverse / _dict_traverse: every object key and string value, at any depth.

    The order of the texts does not matter (their counts are summed), so a stack will do.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def call_texts(call: dict[str, Any], payload: str) -> list[str]:
    """A functionCall (payload ``args``) or functionResponse (``response``): name, then payload."""
    out: list[str] = []
    name = call.get("name")
    if isinstance(name, str):
        out.append(name)
    value_texts(call.get(payload), out)
    return out


def _strings(obj: dict[str, Any], keys: tuple[str, ...], out: list[str]) -> None:
    """The string fields ``keys`` of ``obj``; a list field gives its string items."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))


def schema_texts(schema: Any, out: list[str]) -> None:
    """add_schema: format, description, enum, required, items, property keys, example."""
    if not isinstance(schema, dict):
        return
    _strings(schema, ("format", "description", "enum", "required"), out)
    schema_texts(schema.get("items"), out)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, value in properties.items():
            out.append(key)
            schema_texts(value, out)
    value_texts(schema.get("example"), out)


def tool_texts(tools: list[Any]) -> list[str]:
    """add_tools: function declarations only (name, description, parameters, response)."""
    out: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        _, declarations = _get(tool, "functionDeclarations", "function_declarations")
        for declaration in declarations if isinstance(declarations, list) else ():
            if not isinstance(declaration, dict):
                continue
            for key in ("name", "description"):
                if isinstance(declaration.get(key), str):
                    out.append(declaration[key])
            schema_texts(declaration.get("parameters"), out)
            schema_texts(declaration.get("response"), out)
    return out
