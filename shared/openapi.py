"""Entry of GET /api/openapi.json: the OpenAPI 3 document of the HTTP API (jobs and health).

Served without a key: it holds no data and nothing that is not in the public repository, it
touches neither storage nor Azure OpenAI (so it cannot be used to probe them or run up cost),
and tools can read it before they have a key. Every other route needs a function key.
"""

from __future__ import annotations

from typing import Any

from shared.jobs.model import JobStatus

VERSION = "1.0.0"
JOB_ID = r"^[0-9a-f]{40}$"  # jobs/model.py job_id_for: 40 hex digits of a SHA-256


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


NULLABLE_STRING = {"type": "string", "nullable": True}
COUNT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Batch": {
        "type": "object",
        "required": ["id", "deployment", "status", "requests", "completed", "failed"],
        "properties": {
            "id": {**NULLABLE_STRING, "description": "null until the batch is created"},
            "deployment": {"type": "string"},
            "status": {**NULLABLE_STRING, "description": "Azure OpenAI's batch status"},
            "requests": COUNT,
            "completed": COUNT,
            "failed": COUNT,
        },
    },
    "Job": {
        "type": "object",
        "required": [
            "job_id",
            "status",
            "input",
            "output",
            "total",
            "succeeded",
            "failed",
            "batches",
            "created_at",
            "updated_at",
            "last_error",
        ],  # fmt: skip
        "properties": {
            "job_id": {"type": "string", "pattern": JOB_ID},
            "status": {"type": "string", "enum": [s.value for s in JobStatus]},
            "input": {
                "type": "object",
                "required": ["container", "name", "etag"],
                "properties": {
                    "container": {"type": "string"},
                    "name": {"type": "string"},
                    "etag": {"type": "string"},
                },
            },
            "output": {"type": "string", "description": "container/folder/ of the outputs"},
            "total": COUNT,
            "succeeded": COUNT,
            "failed": COUNT,
            "batches": {"type": "array", "items": _ref("Batch")},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "last_error": NULLABLE_STRING,
        },
    },
    "Health": {
        "type": "object",
        "required": ["ok", "checks"],
        "properties": {
            "ok": {"type": "boolean"},
            "checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "ok", "detail", "fix"],
                    "properties": {
                        "name": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "detail": {"type": "string"},
                        "fix": {"type": "string", "description": "empty when ok"},
                    },
                },
            },
        },
    },
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
            "summary": "Jobs, newest first",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "description": "`open` (not yet cleaned up) or one state",
                    "schema": {"type": "string", "enum": ["open", *(s.value for s in JobStatus)]},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
            ],
            "responses": {"200": _json("The jobs", {"type": "array", "items": _ref("Job")})},
        }
    },
    "/jobs/{job_id}": {
        "get": {
            "operationId": "get_job",
            "summary": "One job",
            "parameters": [JOB_ID_PARAMETER],
            "responses": {"200": _json("The job", _ref("Job")), "404": _error("No such job")},
        }
    },
    "/jobs/{job_id}/cancel": {
        "post": {
            "operationId": "cancel_job",
            "summary": "Cancel a job's live batches; the poller then finishes it as cancelled",
            "parameters": [JOB_ID_PARAMETER],
            "responses": {
                "202": _json("Cancel requested", _ref("Job")),
                "404": _error("No such job"),
                "409": _error("The job is not submitting, waiting or in progress"),
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
