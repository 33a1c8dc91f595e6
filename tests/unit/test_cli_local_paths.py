"""A local path the CLI cannot use (a file where a folder is wanted, no permission, a full
disk) is one line naming the path, never a traceback."""

from __future__ import annotations

import errno
import os

from batchdrop_cli.__main__ import _local


def test_an_os_error_names_its_path_and_what_to_check():
    said = _local(NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/tmp/x/y"))
    assert said.startswith("/tmp/x/y: Not a directory: check that path"), said
    assert "\n" not in said
    assert _local(OSError("no room")).startswith("no room: check that path")
