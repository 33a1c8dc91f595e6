# ruff: noqa: F811 - the fixtures of test_cli.py are imported by name and used as arguments
"""Odd input names (letters beyond ASCII, an emoji, 900 characters, a newline, a tab, a
right-to-left mark) through every CLI command: said as they are, never a traceback. Names
that look like rich markup are in test_cli_plain_text.py."""

from __future__ import annotations

import time

import pytest

from shared.deps import default_deps
from tests.integration.test_cli import cli, running  # noqa: F401 - fixtures
from tests.integration.test_flow import jobs, upload

NAMES = [
    "un/ñame 日本 😀 rtl\u202ex.jsonl",
    "un/" + "l" * 900 + ".jsonl",
    "un/a\nb.jsonl",
    "un/tab\tx.jsonl",
]


@pytest.mark.parametrize("name", NAMES)
def test_odd_name_every_command(name, cli, running):
    deps = default_deps()
    upload(deps, name, b'{"prompt": "x"}\n')
    deadline = time.monotonic() + 30
    while not [j for j in jobs(deps) if j.is_terminal and j.cleaned]:
        assert time.monotonic() < deadline, [(j.status, j.last_error) for j in jobs(deps)]
        time.sleep(0.2)
    out = {}
    for cmd in (
        ["jobs"],
        ["jobs", "--prefix", name[:5]],
        ["show", name],
        ["watch", name, "--timeout", "20", "--interval", "0.2"],
        ["results", name],
        ["retry", name],
        ["cancel", name],
    ):
        code, text = cli(*cmd)
        out[cmd[0] + str(len(cmd))] = (code, text)
        assert "Traceback" not in text
    for key in ("show2", "watch6", "results2"):
        assert out[key][0] == 0, out[key]
    bare = "".join(name.split())  # rich wraps long lines and expands tabs
    assert "".join(out["show2"][1].split()).startswith(bare + "("), out["show2"][1][:300]
    assert f"{bare}:completed" in "".join(out["watch6"][1].split())
