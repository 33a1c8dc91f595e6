import orjson
import pytest

from shared.intake import BOM, Request, Sink, iter_lines, read_native


class Collect(Sink):
    def __init__(self):
        self.rows = []

    def add(self, request, part, native):
        self.rows.append((request, part.index, native))


def line(cid, model="dep-a", url="/v1/chat/completions", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": f"q {cid}"}]}
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body, **extra})


def run(data: bytes, chunk=7, **kw):
    sink = Collect()
    opts = {"default_deployment": "dep-default", "max_requests": 100, "max_bytes": 10**9, **kw}
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return read_native(chunks, sink, **opts), sink


def test_iter_lines_numbers_lines_across_chunk_boundaries_and_crlf():
    data = b"a\r\nbb\n\nccc"
    out = list(iter_lines([data[i : i + 2] for i in range(0, len(data), 2)]))
    assert out == [(1, b"a"), (2, b"bb"), (3, b""), (4, b"ccc")]


def test_valid_file_keeps_input_order_and_native_shape():
    data = b"\n".join(line(f"r{i}") for i in range(5)) + b"\n"
    intake, sink = run(data)
    assert intake.ok and intake.total == 5 and intake.problems == []
    assert [r.custom_id for r, _, _ in sink.rows] == [f"r{i}" for i in range(5)]
    native = orjson.loads(sink.rows[0][2])
    assert set(native) == {"custom_id", "method", "url", "body"}


def test_every_problem_is_reported_with_its_line():
    data = b"\n".join(
        [
            line("a"),
            b"{not json",
            b"[1, 2]",
            line("a"),
            b'{"method": "POST"}',
            line("b", url="/v1/responses"),
            line("c", method="GET"),
        ]
    )
    intake, _ = run(data)
    assert not intake.ok
    found = {(p.line, p.code) for p in intake.problems}
    assert found == {
        (2, "invalid_json"),
        (3, "not_an_object"),
        (4, "duplicate_custom_id"),
        (5, "missing_custom_id"),
        (6, "mixed_url"),
        (7, "unsupported_method"),
    }
    assert all(f"Line {p.line}" in p.message for p in intake.problems)


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n"])
def test_empty_file_is_a_problem(data):
    intake, _ = run(data)
    assert not intake.ok
    assert [p.code for p in intake.problems] == ["empty_file"]


def test_nan_is_not_json():
    intake, _ = run(b'{"custom_id": "a", "body": {"model": "m", "temperature": NaN}}')
    assert [p.code for p in intake.problems] == ["invalid_json"]


def test_bom_is_stripped_with_a_warning():
    intake, sink = run(BOM + line("a"))
    assert intake.ok and len(sink.rows) == 1
    assert any("byte-order mark" in w for w in intake.warnings)


def test_missing_model_method_and_url_are_filled_in():
    intake, sink = run(b'{"custom_id": "a", "body": {"messages": []}}')
    assert intake.ok
    request: Request = sink.rows[0][0]
    assert (request.deployment, request.url) == ("dep-default", "/v1/chat/completions")
    assert request.body["model"] == "dep-default"


def test_split_by_deployment_and_by_count_and_bytes():
    rows = [line(f"a{i}", model="dep-a") for i in range(5)] + [line("b0", model="dep-b")]
    intake, sink = run(b"\n".join(rows), max_requests=2)
    assert [(p.deployment, p.count) for p in intake.parts] == [
        ("dep-a", 2),
        ("dep-a", 2),
        ("dep-a", 1),
        ("dep-b", 1),
    ]
    size = len(line("a0")) + 1
    intake, _ = run(b"\n".join(rows[:4]), max_bytes=size * 2)
    assert [p.count for p in intake.parts] == [2, 2]


def test_chat_url_spellings_are_unified_within_a_part():
    data = b"\n".join([line("a", url="/chat/completions"), line("b")])
    intake, sink = run(data)
    assert intake.ok
    assert {orjson.loads(n)["url"] for _, _, n in sink.rows} == {"/chat/completions"}
