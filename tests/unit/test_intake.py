import orjson
import pytest

from shared.intake.lines import iter_lines
from shared.intake.model import Request
from shared.intake.options import IntakeOptions
from shared.intake.read import BOM, Sink, read_input
from tests.support import read_native


class Collect(Sink):
    def __init__(self):
        self.rows = []

    def add(self, request, part):
        self.rows.append((request, part.index, request.native(part.url)))


def line(cid, model="dep-a", url="/v1/chat/completions", q=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": q or f"q {cid}"}]}
    return orjson.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body, **extra})


def run(data: bytes, chunk=7, **kw):
    sink = Collect()
    opts = {"default_deployment": "dep-default", "max_requests": 100, "max_bytes": 10**9, **kw}
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    if kw.keys() - {"max_requests", "max_bytes", "default_deployment"}:
        return read_input(chunks, sink, "jsonl", IntakeOptions(**opts)), sink
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
    # An empty "messages" list cannot be a chat request (the service answers 400), so one message.
    intake, sink = run(
        b'{"custom_id": "a", "body": {"messages": [{"role": "user", "content": "x"}]}}'
    )
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


# --- reading lines ------------------------------------------------------------------------------


def test_a_line_over_the_limit_is_skipped_not_held():
    from shared.intake.lines import LongLine

    chunks = [b"ok\n", b"x" * 100, b"y" * 100, b"z\nnext\n"]
    out = list(iter_lines(chunks, max_line=50))
    assert [n for n, _ in out] == [1, 2, 3]
    assert out[0][1] == b"ok" and out[2][1] == b"next"
    long = out[1][1]
    assert type(long) is LongLine and long.length == 201


def test_lines_spanning_many_chunks_are_joined_once():
    line_a, line_b = b'{"a": "' + b"x" * 5000 + b'"}', b"tail"
    data = line_a + b"\r\n" + line_b
    out = list(iter_lines(data[i : i + 3] for i in range(0, len(data), 3)))
    assert out == [(1, line_a), (2, line_b)]


def test_an_enormous_line_is_reported_with_its_size():
    big = line("big", q="x" * 5000)
    intake, _ = run(line("a") + b"\n" + big + b"\n" + line("c"), max_bytes=1000)
    assert [(p.line, p.code) for p in intake.problems] == [(2, "line_too_long")]
    assert f"{len(big):,} bytes" in intake.problems[0].message


def test_a_request_that_grows_past_the_batch_size_is_too_large():
    raw = b'{"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hi"}]}}'
    intake, _ = run(raw, max_bytes=len(raw) + 10)
    assert [p.code for p in intake.problems] == ["too_large"]


# --- repairs and strictness ---------------------------------------------------------------------


def test_repairs_are_counted_once_per_kind_not_per_line():
    rows = [
        orjson.dumps(
            {
                "custom_id": f"r{i}",
                "id": i,
                "response": None,
                "body": orjson.loads(line("x"))["body"],
            }
        )
        for i in range(50)
    ]
    intake, sink = run(b"\n\n".join(rows) + b"\n")
    assert intake.ok and len(sink.rows) == 50
    assert len(intake.warnings) == 4, intake.warnings
    text = "\n".join(intake.warnings)
    assert "(id, response) on 50 line(s), first on line 1" in text
    assert '"method" with POST on 50 line(s)' in text
    assert '"url"' in text and "blank lines on 49 line(s), first on line 2" in text
    assert set(orjson.loads(sink.rows[0][2])) == {"custom_id", "method", "url", "body"}


def test_escaped_colons_without_duplicates_are_fine():
    raw = (
        b'{"custom_id": "a\\u003ab", "body": {"model": "m", '
        b'"messages": [{"role": "user", "content": "x\\u003a"}]}}'
    )
    intake, sink = run(raw)
    assert intake.ok
    assert sink.rows[0][0].custom_id == "a:b"


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "m", "tools": [{"type": "function", "function": {"name": "f", "name": "g"}}],'
        b' "messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "messages": []}',
        b'{"model": "m", "messages": [{"role": "user", "role": "user", "content": "x: y"}]}',
    ],
)
def test_duplicate_keys_anywhere_are_found(body):
    intake, _ = run(b'{"custom_id": "a", "body": ' + body + b"}")
    assert [p.code for p in intake.problems] == ["duplicate_key"]


def test_nesting_100000_deep_is_reported_not_a_crash():
    deep = b"[" * 100_000 + b"]" * 100_000
    intake, _ = run(b'{"custom_id": "a", "body": {"model": "m", "x": ' + deep + b"}}", chunk=4096)
    assert [p.code for p in intake.problems] == ["invalid_json"]
    assert "1,024 levels" in intake.problems[0].message


def test_custom_ids_with_odd_characters_are_kept_exactly():
    ids = ["a/b", "c\\d", "e#f", "g?h", "ctl\x01\x7f", "line\nbreak", "ünï cødé"]
    intake, sink = run(b"\n".join(line(c) for c in ids))
    assert intake.ok
    assert [orjson.loads(n)["custom_id"] for _, _, n in sink.rows] == ids


def test_allow_list_names_the_allowed_deployments():
    intake, _ = run(
        b"\n".join([line("a", model="ok"), line("b", model="nope")]),
        allowed_deployments=frozenset({"ok"}),
    )
    [problem] = intake.problems
    assert (problem.line, problem.code) == (2, "deployment_not_allowed")
    assert "use one of ok" in problem.message


def test_too_many_problems_are_counted_beyond_the_list():
    from shared.intake.model import MAX_PROBLEMS

    intake, _ = run(b"{bad\n" * (MAX_PROBLEMS + 5), chunk=1 << 16)
    assert intake.problem_count == MAX_PROBLEMS + 5
    assert len(intake.problems) == MAX_PROBLEMS


# --- splitting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "parts"), [(100_000, [100_000]), (100_001, [100_000, 1])])
def test_azure_request_limit_boundary(count, parts):
    from shared.intake.options import IntakeOptions
    from shared.intake.read import Sink, read_input

    rows = b"".join(
        b'{"custom_id":"%d","body":{"model":"m","messages":[{"role":"user","content":"q"}]}}\n' % i
        for i in range(count)
    )
    intake = read_input([rows], Sink(), "jsonl", IntakeOptions(default_deployment="m"))
    assert intake.ok and [p.count for p in intake.parts] == parts


@pytest.mark.parametrize(("slack", "parts"), [(0, [3]), (-1, [2, 1])])
def test_byte_limit_boundary(slack, parts):
    rows = [line(f"r{i}") for i in range(3)]
    exact = sum(len(r) + 1 for r in rows)  # the uploaded lines are these bytes exactly
    intake, sink = run(b"\n".join(rows), max_bytes=exact + slack)
    assert intake.ok and [p.count for p in intake.parts] == parts
    assert [p.bytes for p in intake.parts] == [
        sum(len(n) + 1 for _, i, n in sink.rows if i == p.index) for p in intake.parts
    ]


def test_token_limit_splits_and_bounds_each_batch():
    rows = [line(f"r{i}", q="w" * 400) for i in range(5)]
    intake, _ = run(b"\n".join(rows), max_tokens=250)
    assert intake.ok
    assert [p.count for p in intake.parts] == [2, 2, 1]
    assert all(p.tokens <= 250 for p in intake.parts)


def test_the_fast_and_the_careful_path_write_the_same_bytes():
    plain = [line(f"r{i}") for i in range(3)]
    careful = [orjson.dumps({**orjson.loads(r), "id": 1}) for r in plain]  # an extra key
    _, fast_sink = run(b"\n".join(plain))
    _, slow_sink = run(b"\n".join(careful))
    assert [n for *_, n in fast_sink.rows] == [n for *_, n in slow_sink.rows]
    assert [r.index_pieces(0) for r, *_ in fast_sink.rows] == [
        r.index_pieces(0) for r, *_ in slow_sink.rows
    ]
