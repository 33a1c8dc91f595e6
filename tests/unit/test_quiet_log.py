"""The host log is the app's own: the SDKs' request lines and the worker's repeat of every
invocation are left out, the runtime's other lines (indexing, errors) and the app's stay."""

from __future__ import annotations

import logging

from shared.telemetry import setup


def test_sdk_request_lines_and_repeated_invocation_lines_are_left_out(caplog):
    setup.configure({})
    assert not logging.getLogger("httpx2").isEnabledFor(logging.INFO)
    assert not logging.getLogger("openai._base_client").isEnabledFor(logging.INFO)
    runtime = logging.getLogger(setup.RUNTIME_LOGGER)
    with caplog.at_level(logging.INFO):
        runtime.info(setup.INVOCATION_LINE, "poll_batches", "sync")
        runtime.info("Successfully indexed function app.")
        logging.getLogger("httpx2").info('HTTP Request: GET http://x "HTTP/1.1 200 OK"')
        logging.getLogger("shared.poll").info("poll tick: %d open", 1)
    assert [r.getMessage() for r in caplog.records] == [
        "Successfully indexed function app.",
        "poll tick: 1 open",
    ]
    setup.configure({})  # configuring again adds no second filter
    assert len([f for f in runtime.filters if isinstance(f, setup.RepeatedInvocationLines)]) == 1
