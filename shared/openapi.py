"""Entry of GET /api/openapi.json: the OpenAPI 3 document of the HTTP API (jobs and health).

Served without a key: it holds no data and nothing that is not in the public repository, it
touches neither storage nor Azure OpenAI (so it cannot be used to probe them or run up cost),
and tools can read it before they have a key. Every other route needs a function key.
"""

from __future__ import annotations

from typing import Any

from shared.jobs.listing import MAX_LIMIT, MAX_PREFIX
from shared.jobs.model import JobStatus, StopReason

VERSION = "1.0.0"
JOB_ID = r"^[0-9a-f]{40}$"  # jobs/model.py job_id_for: 40 hex digits of a SHA-256
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # jobs/listing.py check_prefix


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
NULLABLE_STRING = {"type": "string", "nullable": True}
COUNT = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time"}
STATUS = {"type": "string", "enum": [s.value for s in JobStatus]}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = (), **extra: Any) -> Any:
    """An object schema whose properties are all required but the `optional` ones."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties, **extra}


INPUT = _object({"container": STRING, "name": STRING, "etag": STRING})
STOP = _object(
    {
        "reason": {"type": "string", "enum": [r.value for r in StopReason]},
        "detail": STRING,
        "requested_at": TIME,
    },
    nullable=True,
    description="a cancel or supersede asked for (applied by the job's worker)",
)
RETRY = _object(
    {"detail": STRING, "requested_at": TIME},
    nullable=True,
    description="a retry waiting for the job's worker",
)
CHECK = _object(
    {
        "name": STRING,
        "ok": BOOLEAN,
        "detail": STRING,
        "fix": {"type": "string", "description": "empty when ok"},
    }
)

SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": STRING}),
    "Batch": _object(
        {
            "id": {**NULLABLE_STRING, "description": "null until the batch is created"},
            "deployment": STRING,
            "status": {**NULLABLE_STRING, "description": "Azure OpenAI's batch status"},
            "round": {"type": "integer", "minimum": 1, "description": "1, then one per retry"},
            "requests": COUNT,
            "completed": COUNT,
            "failed": COUNT,
        }
    ),
    "Output": _object(
        {
            "container": STRING,
            "folder": {"type": "string", "description": "the input's own output folder"},
            "owner": {
                **NULLABLE_STRING,
                "description": "the job whose outputs the folder holds (a newer upload's, "
                "if its input was replaced); null: none yet. Only on GET /jobs/{job_id}",
            },
            "files": {
                "type": "object",
                "description": "output files in the folder, with their sizes in bytes. Only "
                "on GET /jobs/{job_id}",
                "additionalProperties": COUNT,
            },
        },
        optional=("owner", "files"),
    ),
    "JobSummary": _object(
        {
            "job_id": {"type": "string", "pattern": JOB_ID},
            "status": STATUS,
            "input": INPUT,
            "output": _ref("Output"),
            "total": COUNT,
            "succeeded": COUNT,
            "failed": COUNT,
            "requests_done": {**COUNT, "description": "the service's progress: ended requests"},
            "batch_count": COUNT,
            "deployments": {"type": "array", "items": STRING},
            "created_at": TIME,
            "updated_at": TIME,
            "last_error": NULLABLE_STRING,
            "stop_requested": {**NULLABLE_STRING, "description": "a cancel or supersede"},
        },
        description="A job as its table row tells it; GET /jobs/{job_id} has the rest",
    ),
    "JobList": _object(
        {
            "jobs": {"type": "array", "items": _ref("JobSummary")},
            "next": {
                **NULLABLE_STRING,
                "description": "pass as `next` for the following page; null on the last one",
            },
        }
    ),
    "Job": _object(
        {
            "job_id": {"type": "string", "pattern": JOB_ID},
            "status": STATUS,
            "input": INPUT,
            "output": _ref("Output"),
            "total": COUNT,
            "succeeded": COUNT,
            "failed": COUNT,
            "batches": {"type": "array", "items": _ref("Batch")},
            "created_at": TIME,
            "updated_at": TIME,
            "last_error": NULLABLE_STRING,
            "stop": STOP,
            "retry": RETRY,
        }
    ),
    "Asked": _object(
        {
            "requested": {"type": "boolean", "description": "false: it was already pending"},
            "message": STRING,
            "job": _ref("Job"),
        }
    ),
    "Health": _object({"ok": BOOLEAN, "checks": {"type": "array", "items": CHECK}}),
}

JOB_ID_PARAMETER = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": JOB_ID},
}

PATHS: dict[str, Any] = {
    "/jobs": {
        "get": {
            "operationId": "list_jobs",
            "summary": "Jobs, newest first, a page at a time",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "description": "`open` (not finished yet) or one state",
                    "schema": {"type": "string", "enum": ["open", *(s.value for s in JobStatus)]},
                },
                {
                    "name": "prefix",
                    "in": "query",
                    "description": "only inputs whose name starts with this",
                    "schema": {"type": "string", "maxLength": MAX_PREFIX, "pattern": NO_CONTROL},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "description": "at most this many jobs (default 50)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                },
                {
                    "name": "next",
                    "in": "query",
                    "description": "the `next` of the previous page",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": _json("One page of jobs (it may hold fewer than `limit`)", _ref("JobList")),
                "400": _error("An unknown status, a bad limit or prefix, or a foreign token"),
            },
        }
    },
    "/jobs/{job_id}": {
        "get": {
            "operationId": "get_job",
            "summary": "One job: batches, last error, pending requests, outputs",
            "parameters": [JOB_ID_PARAMETER],
            "responses": {"200": _json("The job", _ref("Job")), "404": _error("No such job")},
        }
    },
    "/jobs/{job_id}/cancel": {
        "post": {
            "operationId": "cancel_job",
            "summary": "Cancel a job's live batches; its worker then finishes it as cancelled",
            "parameters": [JOB_ID_PARAMETER],
            "responses": {
                "202": _json("Cancel requested", _ref("Asked")),
                "200": _json("A cancel (or supersede) was already pending", _ref("Asked")),
                "404": _error("No such job"),
                "409": _error("The job is not received, submitting, waiting or in progress"),
            },
        }
    },
    "/jobs/{job_id}/retry": {
        "post": {
            "operationId": "retry_job",
            "summary": "Send every failed request of a finished job again; the new answers "
            "are merged into the same results in input order",
            "parameters": [JOB_ID_PARAMETER],
            "responses": {
                "202": _json("Retry requested", _ref("Asked")),
                "200": _json("A retry was already pending", _ref("Asked")),
                "404": _error("No such job"),
                "409": _error(
                    "Not a finished job with failed requests, its input was replaced by a "
                    "newer upload, or its results are gone: the message says which"
                ),
            },
        }
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Settings, storage and Azure OpenAI access, with the app's identity",
            "responses": {
                "200": _json("Every check passed", _ref("Health")),
                "503": _json("A check failed: its `fix` says what to do", _ref("Health")),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json("OpenAPI 3 document", {"type": "object"})},
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "batchdrop",
            "version": VERSION,
            "description": "Jobs of prompt files dropped into Blob Storage, run as Azure "
            "OpenAI batches. Every operation but this document needs a function key.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyHeader": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "query", "name": "code"},
                "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
            },
        },
    }
