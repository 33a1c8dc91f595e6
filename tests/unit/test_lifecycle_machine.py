"""Hypothesis stateful testing of the job lifecycle with the Protocol fakes: random
interleavings of uploads (new versions, the same content again, same-second overwrites),
blob events (also late ones), poll ticks, service progress, completions, cancels, deletes,
crashes at every crash point, lost answers, and a worker whose lease lapses mid-call while the
other takes the job over. After every step: state moves only along ALLOWED, at most one live
batch per part, every batch at the service recorded on its job (or its create's intent),
superseded runs write no outputs. At the end, once everything settled: every job ended,
the newest version of each input owns its folder, nothing is left at the service."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from shared import crash
from shared.completion import complete_job
from shared.deps import Deps
from shared.http_api import cancel_job, retry_job
from shared.intake.receive import record_job
from shared.intake.sweep import sweep_inputs
from shared.jobs.model import FINAL, Job, JobStatus, StopReason, job_id_for
from shared.lifecycle.advance import advance
from shared.storage.names import SUMMARY
from shared.upload import receive_blob
from tests.unit.lifecycle_kit import (
    INPUT,
    OutputContainer,
    Upload,
    World,
    content,
    folders_hold_one_job_each,
    newest_versions_own_their_folders,
)
from tests.unit.sim_service import ServiceView

NAMES = ("a.jsonl", "b.jsonl")
POINTS = (
    "after_file_upload",
    "after_batch_create",
    "after_output_collected",
    "after_outputs_written",
)
FAULTS = ("lose_upload", "lose_create", "quota", "unusable_upload", "file_limit", "refuse_create")


def guarded(call: Callable[[], Any]) -> None:
    """A trigger as the platform runs it: a failure or a crash ends the invocation only."""
    try:
        call()
    except crash.Crash:
        pass
    except Exception:  # noqa: BLE001 - the next trigger retries, as in Azure
        pass


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World.new()
        self.uploads: list[Upload] = []
        self.events: list[str] = []
        self.messages: list[str] = []
        self.tags = 0
        self.retries_asked: set[str] = set()

    @initialize(size=st.integers(1, 4), mixed=st.booleans())
    def first_upload(self, size: int, mixed: bool) -> None:
        """Every run starts with a job under way, so that most steps have something to do."""
        self.upload("a.jsonl", size, mixed, bad=False, later=True)
        self.blob_event(worker=0, index=0, again=False)

    # ----- the world changes -------------------------------------------------------------

    @rule(
        name=st.sampled_from(NAMES),
        size=st.integers(1, 4),
        mixed=st.booleans(),
        bad=st.integers(0, 5).map(lambda n: n == 0),  # now and then a file to reject
        later=st.integers(0, 3).map(lambda n: n == 0),  # mostly within the same second
    )
    def upload(self, name: str, size: int, mixed: bool, bad: bool, later: bool) -> None:
        self.tags += 1
        data, ids = content(f"u{self.tags}", size, mixed, bad)
        self._put(name, data, ids, later)

    @precondition(lambda self: self.uploads)
    @rule(index=st.integers(0, 50), name=st.sampled_from(NAMES))
    def upload_the_same_content(self, index: int, name: str) -> None:
        earlier = self.uploads[index % len(self.uploads)]
        self._put(name, earlier.data, earlier.ids, True)

    def _put(self, name: str, data: bytes, ids: tuple[str, ...], later: bool) -> None:
        inputs = self.world.blobs.inputs
        if later:
            inputs.tick(1)  # blob times have a one-second resolution: else the same second
        inputs.upload_blob(name, data)
        props = inputs.properties(name)
        self.uploads.append(Upload(name, props.etag, props.last_modified, ids, data))
        self.events.append(name)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        self.world.blobs.inputs.delete_blob(name)

    @rule(fault=st.sampled_from(FAULTS))
    def service_fault(self, fault: str) -> None:
        self.world.sim.faults.append(fault)

    @precondition(lambda self: any(b.live for b in self.world.sim.batches.values()))
    @rule(
        index=st.integers(0, 50),
        how=st.sampled_from(("complete", "errors", "expire", "quota", "vanish")),
    )
    def service_moves(self, index: int, how: str) -> None:
        live = [b for b in self.world.sim.batches.values() if b.live]
        self.world.sim.step(live[index % len(live)], how)

    @rule()
    def time_passes(self) -> None:
        """Leases run out (a crashed worker's too); a blob written now is a second later."""
        self.world.table.lapse_leases()
        self.world.blobs.inputs.tick(1)

    @precondition(lambda self: self.uploads)
    @rule(index=st.integers(0, 50), via=st.sampled_from(("store", "http")))
    def cancel(self, index: int, via: str) -> None:
        upload = self.uploads[index % len(self.uploads)]
        job_id = job_id_for(INPUT, upload.name, upload.etag)
        if via == "store":
            self.world.store.request_stop(job_id, StopReason.CANCEL, "cancelled")
        else:
            guarded(lambda: cancel_job(self.world.workers[0], job_id))

    @precondition(lambda self: self.uploads)
    @rule(index=st.integers(0, 50))
    def retry_failed_requests(self, index: int) -> None:
        """A person asks to send a finished job's failed requests again (HTTP API)."""
        upload = self.uploads[index % len(self.uploads)]
        self._retry(job_id_for(INPUT, upload.name, upload.etag))

    def _retry(self, job_id: str) -> None:
        self.retries_asked.add(job_id)
        guarded(lambda: retry_job(self.world.workers[0], job_id))

    # ----- the triggers -----------------------------------------------------------------

    @precondition(lambda self: self.events)
    @rule(worker=st.integers(0, 1), index=st.integers(0, 50), again=st.booleans())
    def blob_event(self, worker: int, index: int, again: bool) -> None:
        name = self.events[index % len(self.events)]
        if not again:
            self.events.remove(name)
        guarded(lambda: receive_blob(self.world.workers[worker], INPUT, name))

    def _unrecorded(self) -> list[Upload]:
        return [
            u
            for u in self.uploads
            if self.world.store.get(job_id_for(INPUT, u.name, u.etag)) is None
        ]

    @precondition(lambda self: self._unrecorded())
    @rule(worker=st.integers(0, 1), index=st.integers(0, 50))
    def late_event(self, worker: int, index: int) -> None:
        """An event that read the blob's properties, then stalled while newer versions were
        uploaded (and maybe recorded) before it recorded its own."""
        unrecorded = self._unrecorded()
        old = unrecorded[index % len(unrecorded)]
        deps = self.world.workers[worker]

        def record() -> None:
            created = record_job(deps, INPUT, old.name, old.etag, old.modified)
            if created is not None:
                advance(deps, created)

        guarded(record)

    @rule(worker=st.integers(0, 1), sweep=st.booleans())
    def tick(self, worker: int, sweep: bool) -> None:
        self._tick(self.world.workers[worker], sweep)

    def _tick(self, deps: Deps, sweep: bool = False) -> None:
        if sweep:
            sweep_inputs(deps)
        for job_id in sorted(deps.store.open_job_ids()):
            job = deps.store.get(job_id)
            if job is not None and job.is_open:
                guarded(lambda job=job: advance(deps, job))
        self.messages += self.world.queue.sent
        self.world.queue.sent.clear()

    @precondition(lambda self: self.messages or self.world.queue.sent)
    @rule(worker=st.integers(0, 1))
    def completion(self, worker: int) -> None:
        self._complete(self.world.workers[worker])

    def _complete(self, deps: Deps) -> None:
        self.messages += self.world.queue.sent
        self.world.queue.sent.clear()
        if not self.messages:
            return
        message = self.messages.pop(0)
        try:
            complete_job(deps, orjson.loads(message)["job_id"])
        except (Exception, crash.Crash):  # noqa: BLE001 - the queue delivers it again
            self.messages.append(message)

    @precondition(lambda self: self.messages)
    @rule(index=st.integers(0, 50))
    def message_again(self, index: int) -> None:
        """Queues deliver at least once: the same completion message twice."""
        self.messages.append(self.messages[index % len(self.messages)])

    @rule(point=st.sampled_from(POINTS), worker=st.integers(0, 1))
    def crash_at(self, point: str, worker: int) -> None:
        crash.ARMED.add(point)
        try:
            self._tick(self.world.workers[worker])
            self._complete(self.world.workers[worker])
        finally:
            crash.ARMED.discard(point)

    @rule(worker=st.integers(0, 1), commits=st.booleans())
    def slow_call(self, worker: int, commits: bool) -> None:
        """This worker's next side effect takes longer than its lease: time passes, the
        other worker takes the job over and acts, then this call times out."""
        other = self.world.workers[1 - worker]

        def meanwhile() -> None:
            self.world.table.lapse_leases()
            self._tick(other)
            self._complete(other)

        view = self.world.workers[worker].service
        assert isinstance(view, ServiceView)
        view.stall = (commits, meanwhile)
        try:
            self._tick(self.world.workers[worker])
        finally:
            view.stall = None

    # ----- after every step -------------------------------------------------------------

    @invariant()
    def state_moves_only_along_allowed(self) -> None:
        assert self.world.table.illegal == []

    @invariant()
    def a_finished_job_reopens_only_when_a_person_asked(self) -> None:
        finals = {s.value for s in FINAL}
        reopened = {job for job, old, _ in self.world.table.changes if old in finals}
        assert reopened <= self.retries_asked

    @invariant()
    def at_most_one_live_batch_per_part(self) -> None:
        doubled = {k: v for k, v in self.world.sim.live_per_part().items() if len(v) > 1}
        assert doubled == {}

    @invariant()
    def every_batch_at_the_service_is_recorded(self) -> None:
        for batch in self.world.sim.batches.values():
            job = self.world.store.get(batch.metadata["batchdrop_job"])
            assert job is not None, batch
            index = int(batch.metadata["batchdrop_part"])
            part = job.parts[index] if index < len(job.parts) else None
            recorded = batch.id in job.batch_ids or (part is not None and part.creating)
            refused = batch.status == "failed" and batch.errors
            assert recorded or refused, (batch, part)

    @invariant()
    def superseded_jobs_write_no_outputs(self) -> None:
        """A job a person retried keeps the outputs of its run before the retry until a newer
        upload's job writes its own; the run that was superseded writes none."""
        writers = self._summary_writers()
        for job in self._jobs():
            if job.status == JobStatus.SUPERSEDED and job.job_id in writers:
                assert writers[job.job_id] <= job.first_part, job

    @invariant()
    def completing_again_writes_the_same_summary(self) -> None:
        output = self.world.blobs.containers["out"]
        assert isinstance(output, OutputContainer)
        assert {j: len(w) for j, w in output.summaries.items() if len(w) > 1} == {}

    def _jobs(self) -> list[Job]:
        return list(self.world.store.all_jobs())

    def _summary_writers(self) -> dict[str, int]:
        """The job of each summary.json in the folders, and how many batches it lists."""
        output = self.world.blobs.get_container_client("out")
        docs = [orjson.loads(output.blobs[n]) for n in output.blobs if n.endswith("/" + SUMMARY)]
        return {doc["job_id"]: len(doc.get("batches") or ()) for doc in docs}

    # ----- once it all settles ----------------------------------------------------------

    def teardown(self) -> None:
        self._settle()
        # A person retries what failed (a cancel leaves failed requests too); it settles again.
        for job in self._jobs():
            if job.status in FINAL and job.failed:
                self._retry(job.job_id)
        self._settle()
        jobs = self._jobs()
        assert [j for j in jobs if not (j.is_terminal and j.cleaned)] == []
        for status in sorted({j.status.value for j in jobs}):
            event(f"a job ended {status}")  # --hypothesis-show-statistics: what the runs reached
        event(f"batches at the service: {min(len(self.world.sim.batches), 5)}+")
        finals = {s.value for s in FINAL}
        if any(old in finals for _, old, _ in self.world.table.changes):
            event("a finished job was retried")
        newest_versions_own_their_folders(self.world, self.uploads, NAMES)
        folders_hold_one_job_each(self.world, self.uploads)
        assert [b.id for b in self.world.sim.batches.values() if b.live] == []
        assert list(self.world.sim.files) == []

    def _settle(self) -> None:
        sim, table = self.world.sim, self.world.table
        sim.faults.clear()
        for _ in range(30):
            table.lapse_leases()
            sim.finish_all()
            for name in self.events:
                guarded(lambda name=name: receive_blob(self.world.workers[0], INPUT, name))
            self.events.clear()
            self._tick(self.world.workers[0], sweep=True)
            while self.messages:
                before = list(self.messages)
                self._complete(self.world.workers[1])
                if self.messages == before[1:] + before[:1]:
                    break
            if all(j.is_terminal and j.cleaned for j in self._jobs()) and not self.messages:
                return


# BATCHDROP_MACHINE_EXAMPLES=2000 for a longer search than CI's.
EXAMPLES = int(os.environ.get("BATCHDROP_MACHINE_EXAMPLES", "100"))
Lifecycle.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle_machine = Lifecycle.TestCase
