"""Deleting what a job's parts left at the service, so the resource's file quota never fills."""

from __future__ import annotations

from shared.batches.service import BatchService
from shared.jobs.part import Part


def delete_part_files(service: BatchService, part: Part) -> None:
    """The part's upload and the service's output and error files (already gone is fine)."""
    for file_id in (part.file_id, part.output_file_id, part.error_file_id):
        if file_id:
            service.delete_file(file_id)
