"""Messages: the two formats of ``messages`` arrays, gemini-messages and openai-chat (SPEC §1).

They share a shape (an array of role and content) and so an Arrow schema, vector checks and a
sample; their rules differ: gemini-messages has user/model turns that alternate after an
optional first system message, openai-chat any order of system/user/assistant/tool messages,
with tool calls and tools read as JSON.

Hands to the registry (the package) :func:`gemini_messages` and :func:`openai_chat`, one record
each that says all of that.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from .arrow import _col, _Columns, _is, _list_info, _mask, _turns, _valid
from .common import (
    Example,
    Invalid,
    _Builder,
    _content,
    _kind_name,
    _nonempty_list,
    _role,
    _string,
    _tools,
    compact_json,
)
from .format import Format


def gemini_messages() -> Format:
    """gemini-messages: ``messages`` of system (first only), user and model turns."""
    return _messages_format("gemini-messages", _gemini_messages)


def openai_chat() -> Format:
    """openai-chat: ``messages`` of system, user, assistant and tool, with tool calls."""
    return _messages_format("openai-chat", _openai_chat)


def _messages_format(
    name: str, normalize: Callable[[dict[str, Any], int, bool], Example]
) -> Format:
    """The two share all but their per-line rules (and the Arrow checks' branch on ``name``)."""
    return Format(
        name=name,
        signature=("messages",),
        expects="an array of messages",
        normalize=normalize,
        sample=_messages_sample,
        arrow_schema=_schema,
        arrow_checks=partial(_messages_arrow, fmt=name),
    )


# --- per line -------------------------------------------------------------------------------


def _gemini_messages(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
    messages = _nonempty_list(record.get("messages"), "messages")
    single = len(messages) == 1
    previous = None
    has_model = False
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise Invalid(path, f"is {_kind_name(message)}; expected an object")
        allowed = ("system", "user", "model")
        role = _role(message.get("role"), f"{path}.role", allowed, single)
        if role == "system" and i > 0:
            raise Invalid(f"{path}.role", 'is "system"; only the first message may be "system"')
        content = _string(message.get("content"), f"{path}.content")
        if role == "system":
            out.text(content, False)
            continue
        if role == previous:
            raise Invalid(
                f"{path}.role", f'is "{role}" like the message before; turns must alternate'
            )
        previous = role
        has_model = has_model or role == "model"
        out.messages += 1
        out.text(content, role == "model" and not distill)
    if out.messages == 0:
        raise Invalid("messages", 'has no "user" or "model" message')
    if not has_model and not distill:
        raise Invalid("messages", 'has no "model" message')
    return out.build(line, record)


_OPENAI_ROLES = ("system", "user", "assistant", "tool")


def _openai_chat(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
    if record.get("tools") is not None:
        out.json(_tools(record), False)  # SPEC §2 [C]: open models read tools as JSON
    messages = _nonempty_list(record.get("messages"), "messages")
    single = len(messages) == 1
    has_assistant = False
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise Invalid(path, f"is {_kind_name(message)}; expected an object")
        role = _role(message.get("role"), f"{path}.role", _OPENAI_ROLES, single)
        output = role == "assistant" and not distill
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise Invalid(f"{path}.tool_calls", f"is {_kind_name(tool_calls)}; expected an array")
        content = message.get("content")
        if not (content is None and role == "assistant" and tool_calls):
            content = _string(content, f"{path}.content")
        if role == "system" and i == 0:
            out.text(content, False)  # a leading system message is the system instruction
            continue
        out.messages += 1
        has_assistant = has_assistant or role == "assistant"
        if content:
            out.text(content, output)
        if tool_calls:
            out.json(tool_calls, output)
    if out.messages == 0:
        raise Invalid("messages", "has no message besides the system message")
    if not has_assistant and not distill:
        raise Invalid("messages", 'has no "assistant" message')
    return out.build(line, record)


def _messages_sample(record: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for i, message in enumerate(record["messages"]):
        role = message.get("role") or "user"
        if role == "system" and i == 0:
            continue
        text = message.get("content") or ""
        if message.get("tool_calls"):
            text += compact_json(message["tool_calls"])
        result.append(_content("model" if role in ("model", "assistant") else "user", text))
    return result


# --- Arrow ----------------------------------------------------------------------------------


def _schema(pa: Any) -> Any:
    """The plain shape: messages of a role and a string content."""
    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    return pa.schema([("messages", message)])


def _messages_arrow(table: Any, cols: _Columns, distill: bool, fmt: str) -> None:
    messages, row, count = _list_info(_col(table, "messages"))
    cols.bad |= count == 0
    cols.bad[row[~_valid(messages)]] = True
    roles = messages.field("role")
    is_system = _is(roles, "system")
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    leading_system = is_system & first
    other = ~leading_system
    writer = "model" if fmt == "gemini-messages" else "assistant"
    if fmt == "gemini-messages":
        # system only first; the other turns alternate user/model
        cols.bad[row[is_system & ~first]] = True
        turn_roles = roles.filter(_mask(other))
        code, bad_turn = _turns(turn_roles, row[other], ("user", "model"), (count == 1))
        cols.bad[row[other][bad_turn]] = True
    else:
        # openai-chat: any order; a missing role only in single-message rows
        allowed = ("system", "user", "assistant", "tool")
        known = _is(roles, *allowed)
        missing_ok = ~_valid(roles) & (count == 1)[row]
        cols.bad[row[~known & ~missing_ok]] = True
        code = _is(roles, writer).astype(np.int64)[other]
    turns = np.bincount(row[other], minlength=cols.rows)
    cols.bad |= turns == 0
    cols.messages = turns.astype(np.int64)
    if not distill:
        cols.bad |= np.bincount(row[other], weights=code, minlength=cols.rows) == 0
    output = np.zeros(len(row), dtype=bool)
    if not distill:
        output[other] = code == 1
    cols.add(messages.field("content"), row, output)
