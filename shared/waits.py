"""Exceptions that end a step without counting it as a failure. Below every layer (imports
nothing of the app), so storage can raise them and the job lease (jobs/lease.py) tell them
apart."""

from __future__ import annotations


class NotYet(Exception):
    """The step cannot run yet for a reason that passes by itself, such as another job
    publishing into the same output folder right now: the step is tried again on the next
    trigger, and the try is not counted toward BATCH_MAX_STEP_FAILURES. Whoever raises it
    bounds the wait itself (it raises an ordinary error once the wait is no longer plausible)."""
