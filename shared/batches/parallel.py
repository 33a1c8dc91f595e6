"""The parts of one job advanced on threads under its one lease: each thread changes only its
own part, and the saves that wait for each other are merged into one conditional write (the
store serialises every write on the lease row anyway), so a job of 1,000 batches is sent,
tracked and collected in a fraction of the time one part after another takes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from shared.jobs.model import Job, Stop, utcnow
from shared.jobs.part import Part

if TYPE_CHECKING:
    from shared.deps import Deps
    from shared.jobs.store import JobStore

THREADS = 8  # calls in flight for one job; the poll tick runs several jobs besides


class SharedSaves:
    """The job store as the threads of one step see it: a save writes the caller's changed
    parts over the latest saved copy of the job, together with whatever other threads asked
    to save meanwhile (group commit). Everything else goes to the store itself."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self.store = store
        self.latest = job
        self._ready = threading.Condition()
        self._pending: dict[int, Part] = {}
        self._writing = False
        self._next = 1  # the write that pending changes will go in
        self._done = 0  # the last write finished
        self._failed: dict[int, BaseException] = {}
        self._unsaved: dict[int, Part] = {}  # parts threads changed without saving
        self._stop: Stop | None = None  # a stop request a thread read

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save(self, job: Job, release: bool = False) -> Job:
        if release:
            raise ValueError("a thread of a step never releases the job's lease")
        with self._ready:
            self._pending.update((p.index, p) for p in _unsaved(job))
            mine = self._next
            while self._done < mine:
                if self._writing:
                    self._ready.wait()
                else:
                    self._write()
            if mine in self._failed:
                raise self._failed[mine]
            return self._view()

    def copy(self) -> Job:
        """The latest copy of the job, to start a part's work from (or to go on with)."""
        with self._ready:
            return self._view()

    def absorb(self, job: Job) -> None:
        """Changes a thread made without saving them: kept for the step's own final save; a
        stop request it read holds for every part not started yet."""
        with self._ready:
            self._unsaved.update((p.index, p) for p in _unsaved(job))
            self._stop = self._stop or job.stop

    def _view(self) -> Job:
        """The saved copy with what threads changed but did not save on top of it."""
        job = _with_parts(self.latest, list(self._unsaved.values()))
        return job if self._stop is None else replace(job, stop=self._stop)

    def _write(self) -> None:
        """Write everything pending as one save (called holding the condition's lock, which
        is let go during the write so that others can queue their changes)."""
        batch, parts = self._next, list(self._pending.values())
        self._next, self._pending, self._writing = batch + 1, {}, True
        merged = _with_parts(self.latest, parts)
        self._ready.release()
        try:
            saved: Job | BaseException = self.store.save(merged)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting thread
            saved = exc
        finally:
            self._ready.acquire()
        if isinstance(saved, BaseException):
            self._failed[batch] = saved
        else:
            self.latest = saved
        self._writing, self._done = False, batch
        self._ready.notify_all()


def _unsaved(job: Job) -> list[Part]:
    """Parts changed since the job was saved (a part not touched is the very same object)."""
    stored = job.stored_parts
    if len(stored) != len(job.parts):
        return [p for p in job.parts if p.index >= len(stored) or stored[p.index] != p]
    return [p for p, was in zip(job.parts, stored, strict=True) if p is not was and p != was]


def _with_parts(job: Job, parts: list[Part]) -> Job:
    """`job` with `parts` put in place, the tuple built once (a job may have 1,000 parts)."""
    if not parts:
        return job
    merged = list(job.parts)
    for part in parts:
        merged[part.index] = part
    return replace(job, parts=tuple(merged), updated_at=utcnow())


def each_part(
    deps: Deps,
    job: Job,
    parts: Sequence[Part],
    step: Callable[[Deps, Job, Part], Job],
    until: Callable[[Job], bool] = lambda _job: False,
) -> Job:
    """`step(deps, job, part)` for every part (each saving only its own part), several at a
    time, starting none once `until(job)`; the job as it is afterwards. One part runs here,
    as it always did."""
    if len(parts) < 2:
        for part in parts:
            if not until(job):
                job = step(deps, job, job.parts[part.index])
        return job
    saves = SharedSaves(deps.store, job)
    shared = replace(deps, store=cast("JobStore", saves))
    failed = threading.Event()

    def one(part: Part) -> None:
        current = saves.copy()
        if failed.is_set() or until(current):
            return  # a part failed (or the lease went), or the job stops: start nothing new
        try:
            saves.absorb(step(shared, current, current.parts[part.index]))
        except BaseException:
            failed.set()
            raise

    run_all(one, parts)
    return saves.copy()


def in_parallel[T](work: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    """work(item) for every item, several at a time; the results in the items' order."""
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        return list(pool.map(work, items))


def run_all[T](work: Callable[[T], Any], items: Sequence[T]) -> None:
    """work(item) for every item on threads; waits for all, then raises the first error."""
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise cast(BaseException, errors[0])
