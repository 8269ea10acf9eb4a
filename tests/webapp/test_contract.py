"""The render contract (webapp.contract), written once and checked here against both of its sides:
every answer webapp.denoise_tab.render gives has only RenderAnswer's keys, each of its declared type;
every key of the answer that the page's controller (webapp/static/controller.js) reads is declared;
and the fields its header comment and its request list are RenderRequest's.
"""

import asyncio
import json
import re
import types
import typing
from pathlib import Path

import numpy as np
import pytest

from tests.support import data_url, drawing, request
from webapp.contract import RenderAnswer, RenderRequest, Source
from webapp.denoise_tab import render

CONTROLLER = Path(__file__).resolve().parents[2] / "webapp" / "static" / "controller.js"


# ---- a type checker for the few shapes the contract uses ---------------------------------------------


def conforms(value, hint) -> bool:
    """Whether `value` (as JSON would carry it) is of the type `hint`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is dict:
        return isinstance(value, dict)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items()
        )
    if typing.is_typeddict(hint):
        return typed_dict_problems(value, hint) == []
    raise TypeError(f"no check for {hint!r}: add it to conforms()")


def typed_dict_problems(value, cls) -> list[str]:
    """What is wrong with `value` as a `cls` (a total=False TypedDict): keys it does not declare, values of
    another type."""
    if not isinstance(value, dict):
        return [f"not an object: {value!r}"[:200]]
    hints = typing.get_type_hints(cls)
    problems = [f"undeclared key {key!r}" for key in value if key not in hints]
    problems += [
        f"{key}: {value[key]!r} is not {hints[key]}"[:300]
        for key in value
        if key in hints and not conforms(value[key], hints[key])
    ]
    return problems


def test_the_checker_itself():
    """The checker tells the shapes apart (so that a passing contract test means something)."""
    assert conforms(3, int) and not conforms(True, int) and not conforms(3.0, int)
    assert conforms(None, int | None) and conforms(4, int | None) and not conforms("4", int | None)
    assert conforms({"a": "b"}, dict[str, str]) and not conforms({"a": 1}, dict[str, str])
    assert conforms(["a"], list[str]) and not conforms(("a",), list[str]) and not conforms([1], list[str])
    assert conforms([0.5, 1], list[float] | None) and not conforms([True], list[float])
    assert conforms("sample", typing.Literal["none", "sample"]) and not conforms(
        "webcam", typing.Literal["none"]
    )
    assert typed_dict_problems({"images": {}, "bogus": 1, "sample": "3"}, RenderAnswer) == [
        "undeclared key 'bogus'",
        "sample: '3' is not int | None",
    ]


# ---- every answer of render ------------------------------------------------------------------------------

SAMPLE = {"kind": "sample", "index": 7}
REQUESTS = {
    "sample": request(SAMPLE, "salt_pepper", 0.2, 9),
    "sample, compare": request(SAMPLE, "mask", 0.5, 1, compare="unet"),
    "sample, every view": request(SAMPLE, views=["curve", "layers", "latent-map", "learning"])
    | {"map_at": {"model": "dae", "at": [0.25, 0.75]}},
    "sample, compare and every view": request(
        SAMPLE, "gaussian", 1.0, 3, compare="unet", views=["curve", "layers", "latent-map", "learning"]
    ),
    "sample, a 2-number code beside, its map clicked": request(
        SAMPLE, "gaussian", 0.5, 3, compare="dae-code2", views=["curve", "layers", "latent-map"]
    )
    | {"map_at": {"model": "dae-code2", "at": [0.5, 0.5]}},
    "sample, a model without a code map beside": request(SAMPLE, compare="plain-ae", views=["latent-map"]),
    "live": request(SAMPLE, views=["curve", "layers"]) | {"live": True},
    "live drawing": request(drawing(), views=["curve"]) | {"live": True},
    "drawing": request(drawing(), strength=0.3),
    "empty drawing": request({"kind": "strokes", "side": 320, "strokes": []}),
    "digit": request({"kind": "digit", "png": data_url(np.full((28, 28), 128, dtype=np.uint8))}),
    "none": request({"kind": "none"}),
    "strength 0": request(SAMPLE, "gaussian", 0.0),
    "with a session": request(SAMPLE) | {"session": "0123456789abcdef"},
    # what a person or a hostile client can send
    "bad sample": request({"kind": "sample", "index": 100}),
    "bool sample": request({"kind": "sample", "index": True}),
    "unknown kind": request({"kind": "webcam"}),
    "no source": request(None),
    "huge drawing": request({"kind": "strokes", "side": 320, "strokes": [drawing()["strokes"][0]] * 501}),
    "malformed drawing": request(
        {"kind": "strokes", "side": 320, "strokes": [{"tool": "pen", "points": "0,0"}]}
    ),
    "not a digit": request({"kind": "digit", "png": data_url(np.zeros((29, 28), dtype=np.uint8))}),
    "bad seed": request(SAMPLE, seed=-1),
    "bad noise": request(SAMPLE, noise="<b>fog</b>"),
    "bad strength": request(SAMPLE, strength=float("nan")),
    "bad views": request(SAMPLE, views=["nothing", "<script>"]) | {"map_at": "0.5,0.5"},
    "old map point": request(SAMPLE, views=["latent-map"]) | {"map_at": [0.25, 0.75]},
    "old compare": request(SAMPLE, compare=True),
    "unknown compare": request(SAMPLE, compare="<b>resnet</b>"),
    "views not a list": request(SAMPLE) | {"views": "layers"},
    "empty": {},
    "not an object": ["render"],
    "null": None,
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_answer_is_a_render_answer(served, name):
    answer = render(served, REQUESTS[name])
    assert typed_dict_problems(answer, RenderAnswer) == [], name
    assert json.loads(json.dumps(answer)) == answer  # plain JSON, as the page receives it
    assert isinstance(answer.get("status"), str)  # every answer says something where the results are


def test_the_well_formed_requests_are_render_requests():
    """The requests above that the page itself could send follow RenderRequest (so the test speaks the
    contract)."""
    for name in (
        "sample",
        "sample, compare",
        "sample, every view",
        "sample, a 2-number code beside, its map clicked",
        "live drawing",
        "drawing",
        "digit",
        "none",
        "with a session",
    ):
        assert typed_dict_problems(REQUESTS[name], RenderRequest) == [], name


def test_the_schedulers_own_answers_are_render_answers():
    """What the page may get instead of render's answer: "busy" (too many pages waiting) or "superseded"."""
    from webapp.scheduler import SUPERSEDED, FairScheduler

    scheduler = FairScheduler(workers=1, max_waiting=0)
    try:
        busy = asyncio.run(scheduler.submit("0123456789abcdef", True, lambda: pytest.fail("computed")))
    finally:
        scheduler.close()
    assert busy["busy"] is True and typed_dict_problems(busy, RenderAnswer) == []
    assert typed_dict_problems(SUPERSEDED, RenderAnswer) == [] and SUPERSEDED["superseded"] is True


# ---- the controller's side ---------------------------------------------------------------------------------


def controller() -> str:
    return CONTROLLER.read_text()


def fields_of(text: str) -> list[str]:
    """The top-level field names of the first `{...}` in `text`, a JS object literal or the contract comment's
    `{a: ..., b?: ...}`: fields written `name: value`, `name?: value` or as a shorthand `name`."""
    parts, depth, part = [], 1, ""
    for ch in text[text.index("{") + 1 :]:
        depth += 1 if ch in "{[(" else -1 if ch in "}])" else 0
        if depth == 0:  # its closing brace
            break
        if depth == 1 and ch == ",":
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    names = [re.match(r"\s*(\w+)\s*(?:\??\s*:|$)", p) for p in parts]
    return [m.group(1) for m in names if m]


def test_fields_of_reads_literals_and_comments():
    assert fields_of("{a: 1, b?: {c: 2, d: 3}, e: [x, y], f}") == ["a", "b", "e", "f"]
    assert fields_of("{session, source: source(), live}") == ["session", "source", "live"]
    assert fields_of("{kind: 'none' | 'sample', index?: int, png?: data URL}") == ["kind", "index", "png"]


def contract_comment() -> dict[str, str]:
    """The `request {...}` and `answer {...}` of the comment at the top of controller.js, comment marks
    removed."""
    header = controller().split("*/", 1)[0]
    text = " ".join(line.strip().lstrip("*").strip() for line in header.splitlines())
    return {
        part: text[text.index(part + " ", text.index("The render contract")) + len(part) :].lstrip()
        for part in ("request", "answer")
    }


def test_the_comment_lists_the_contracts_fields():
    comment = contract_comment()
    assert fields_of(comment["request"]) == list(typing.get_type_hints(RenderRequest))
    assert fields_of(comment["answer"]) == list(typing.get_type_hints(RenderAnswer))
    source = comment["request"][comment["request"].index("source:") + len("source:") :].lstrip()
    assert fields_of(source) == list(typing.get_type_hints(Source))
    kinds = re.findall(r"'(\w+)'", source.split("kind:", 1)[1].split(",", 1)[0])
    assert tuple(kinds) == typing.get_args(typing.get_type_hints(Source)["kind"])


def test_the_request_the_controller_sends_has_the_contracts_fields():
    js = controller()
    literal = js[js.index("const request = () => ({") + len("const request = () => (") :]
    assert fields_of(literal) == list(typing.get_type_hints(RenderRequest))


def function_body(js: str, name: str) -> str:
    """The text of `const name = async? (...) => {...};`, braces matched."""
    start = js.index("{", re.search(rf"const {name} = (async )?\(", js).end())
    depth = 0
    for i in range(start, len(js)):
        depth += {"{": 1, "}": -1}.get(js[i], 0)
        if depth == 0:
            return js[start : i + 1]
    raise AssertionError(f"{name} never ends")


def test_every_answer_field_the_controller_reads_is_declared():
    """`a.x` and `answer.x` outside `post` read a render answer: each x is RenderAnswer's, or one the
    controller's own `post` makes up for an answer that never came ({failed: ...}). Inside `post`, a refused
    request's body is read: its fields are those of the server's refusal (webapp.serving.error)."""
    from webapp.serving import error

    js = controller()
    declared = set(typing.get_type_hints(RenderAnswer))
    post = function_body(js, "post") if re.search(r"const post = (async )?\(", js) else ""
    made_up = set(re.findall(r"return [^;]*?\{(\w+):", post))  # the answers `post` returns of its own
    outside = js.replace(post, "") if post else js
    read = set(re.findall(r"\b(?:a|answer)\.(\w+)", outside))
    assert read, "the controller reads no answer field: has the parsing gone wrong?"
    assert read - declared - made_up == set(), (
        f"read by the controller, not in RenderAnswer: {read - declared}"
    )
    assert {"images", "status", "views", "digit"} <= read  # the answer is really read here
    refusal = set(json.loads(error(400, "x").body))
    assert set(re.findall(r"\b(?:a|answer)\.(\w+)", post)) <= refusal | declared
