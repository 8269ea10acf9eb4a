"""The one kind of error a person (or an API client) can cause, and how the page words it."""

from __future__ import annotations

import html


class InputError(ValueError):
    """The input cannot be used; the message is meant for the person who sent it."""


def shown(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: its repr, cut to `limit` characters (a message never echoes a long
    input). A value that is missing is "nothing", not Python's None."""
    if value is None:
        return "nothing"
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number too long to print"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def warning(error: InputError) -> str:
    """What went wrong, as the page's status line shows it (HTML: the message is escaped)."""
    return f"⚠️ {html.escape(str(error))}"
