"""Are a job's work files where it wrote them? Checked before a step reads them or writes next
to them (collecting answers, uploading a part's file), so that a changed or emptied work
container is told apart from a bug and never counted to BATCH_MAX_STEP_FAILURES:

- the container named by BATCH_WORK_CONTAINER does not exist: `Misconfigured` (the storage
  error itself, shared/misconfig.py), the job waits;
- it exists, but the job wrote its files to another one (a mistyped name, and then the
  container created as the error said): `Misconfigured` naming the container to set back,
  the job waits and resumes once it is set back; nothing is written to the wrong one;
- it is the container the job wrote to, and the files are gone (it was emptied, or deleted and
  created again): `WorkLost`, the job fails at once with that reason. Nothing can rebuild them:
  the service keeps answers, not the input order, the inputs or the CSV's columns.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.misconfig import Misconfigured, WorkLost
from shared.storage.names import WORK_INDEX, work_prefix

SETTING = "BATCH_WORK_CONTAINER"


def check_work_files(work: ContainerClient, job_id: str, recorded: str) -> None:
    """Return when the job's request index is in `work`; raise why not. `recorded` is the
    container the job wrote its files to ("" if unknown)."""
    name = work_prefix(job_id) + WORK_INDEX
    try:
        work.get_blob_client(name).get_blob_properties()
        return
    except ResourceNotFoundError as exc:
        if getattr(exc, "error_code", None) == "ContainerNotFound":
            raise  # the container itself: shared/misconfig.py names it
        raise missing(work.container_name, recorded) from exc


def missing(current: str, recorded: str) -> Exception:
    """Why the job's work files are not in `current`."""
    if recorded and recorded != current:
        return Misconfigured(
            SETTING,
            f"this job's work files are not in the container {current!r}; it wrote them to "
            f"{recorded!r}",
            f"set {SETTING} back to {recorded!r} (a new, empty container does not hold the work "
            "files of jobs that were running); nothing is written meanwhile",
        )
    if recorded:
        return WorkLost(
            f"The job's work files are gone from the work container {current!r} "
            f"({SETTING}): it was emptied, or deleted and created again, while the job ran. "
            "They cannot be rebuilt (the service keeps the answers, not the input order, the "
            "inputs or the CSV columns); upload the file again."
        )
    return Misconfigured(  # a job recorded before the container was: it cannot tell which
        SETTING,
        f"this job's work files are not in the container {current!r}",
        f"set {SETTING} back to the container the job started with; if its files were "
        "deleted, cancel the job and upload the file again",
    )
