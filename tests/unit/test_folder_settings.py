"""Per-folder _job.json: the nearest wins, every mistake is reported with what to write."""

from __future__ import annotations

import orjson
import pytest

from shared.intake.folder_settings import FolderSettings, candidates, find, parse
from shared.intake.output_format import strict_gap
from shared.intake.templates import parse_template

SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "string"}}},
    "required": ["a", "b"],
    "additionalProperties": False,
}
OPEN_ITEMS = {**SCHEMA, "properties": {"b": {"type": "array", "items": {"type": "object"}}}}


def messages(result):
    assert isinstance(result, list), result
    return [p.message for p in result]


def test_candidates_go_from_the_nearest_folder_up_to_the_root():
    assert candidates("a/b/x.csv") == ["a/b/_job.json", "a/_job.json", "_job.json"]
    assert candidates("x.csv") == ["_job.json"]


def test_the_nearest_settings_win_as_a_whole():
    files = {
        "_job.json": orjson.dumps({"deployment": "root", "system": "root system"}),
        "a/_job.json": orjson.dumps({"endpoint": "responses"}),
    }
    found = find(files.get, "a/b/x.jsonl")
    assert isinstance(found, FolderSettings)
    assert (found.source, found.endpoint, found.deployment, found.system) == (
        "a/_job.json",
        "responses",
        None,
        None,
    )
    assert find(files.get, "x.jsonl").deployment == "root"
    assert find({}.get, "x.jsonl") == FolderSettings()


def test_every_field_parsed():
    found = parse(
        "_job.json",
        orjson.dumps(
            {
                "deployment": "d",
                "endpoint": "/v1/chat/completions",
                "system": "s",
                "template": "About {x}: {{literal}}",
                "response_format": {"type": "json_object"},
                "body": {"temperature": 0},
            }
        ),
    )
    assert isinstance(found, FolderSettings)
    assert found.endpoint == "chat" and found.template is not None
    assert found.template.fields == ("x",)
    assert found.template.render({"x": [1]}) == "About [1]: {literal}"
    assert found.output is not None and found.output.chat() == {"type": "json_object"}
    assert found.json_schema is None and found.shapes_bodies


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"deployment": "d",}', "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"deployment": "a", "deployment": "b"}', "appears twice"),
        (b'{"deplyment": "d"}', 'did you mean "deployment"'),
        (b'{"max_tokens": 5}', '"body": {"max_tokens": ...}'),
        (b'{"endpoint": "embeddings"}', '"chat" or "responses"'),
        (b'{"system": 5}', "non-empty string"),
        (b'{"template": "{a.b}"}', "plain field name"),
        (b'{"template": "{"}', "literal braces"),
        (b'{"template": "no fields"}', "names no field"),
        (b'{"json_schema": {"type": "array"}}', '"type": "object"'),
        (
            b'{"json_schema": {"type": "object"}, "response_format": {"type": "json_object"}}',
            "not both",
        ),
        (b'{"response_format": {"type": "xml"}}', "json_object"),
        (b'{"body": {"model": "x"}}', 'use "deployment"'),
        (b'{"body": {"stream": true}}', "cannot stream"),
        (b'{"body": []}', '"body" must be an object'),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{" + b" " * (1 << 20) + b"}", "larger than"),
    ],
)
def test_mistakes_are_reported_with_the_file_and_the_fix(data, says):
    found = messages(parse("team/_job.json", data))
    assert all(m.startswith("team/_job.json: ") for m in found)
    assert any(says in m for m in found), found


def test_all_mistakes_at_once():
    found = parse("_job.json", orjson.dumps({"x": 1, "y": 2, "system": 3}))
    assert len(messages(found)) == 3


def test_a_bom_is_fine():
    assert parse("_job.json", b'\xef\xbb\xbf{"deployment": "d"}').deployment == "d"


def test_schemas_bare_or_wrapped_and_strict_only_when_possible():
    bare = parse("_job.json", orjson.dumps({"json_schema": SCHEMA}))
    assert bare.output.strict and bare.output.name == "answer" and bare.json_schema == SCHEMA
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    found = parse("_job.json", orjson.dumps({"json_schema": loose}))
    assert not found.output.strict
    assert any("strict false" in w for w in found.warnings)
    wrapped = parse(
        "_job.json",
        orjson.dumps({"json_schema": {"name": "x_1", "schema": loose, "strict": True}}),
    )
    assert wrapped.output.strict and wrapped.output.name == "x_1" and not wrapped.warnings
    chat_style = parse(
        "_job.json",
        orjson.dumps(
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "n", "schema": SCHEMA},
                }
            }
        ),
    )
    assert chat_style.output.responses() == {
        "type": "json_schema",
        "name": "n",
        "schema": SCHEMA,
        "strict": True,
    }


def test_strict_gap_names_the_open_object():
    assert strict_gap(SCHEMA) is None
    gap = strict_gap({**OPEN_ITEMS, "required": ["b"]})
    assert gap == 'the items of property "b" lacks "additionalProperties": false'
    assert strict_gap({**SCHEMA, "required": ["a"]}) == (
        "the root does not list every property in required"
    )


def test_templates():
    template = parse_template("{first name} and {x}{x}")
    assert template.fields == ("first name", "x")
    assert template.missing({"x": 1}) == ["first name"]
    assert isinstance(parse_template("{}"), str)
    assert isinstance(parse_template("{x!r}"), str)
    assert isinstance(parse_template("{x:>10}"), str)
