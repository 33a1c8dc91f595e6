"""Azure-shaped API errors raised by the emulator's handlers."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered as `{"error": {...}}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.type is not None:
            error["type"] = self.type
        return {"error": error}


def not_found(message: str = "Resource not found") -> ApiError:
    # Azure's gateway answers unknown routes with a bare numeric code.
    return ApiError(404, "404", message)


def bad_request(
    message: str, *, param: str | None = None, code: str = "invalidPayload"
) -> ApiError:
    return ApiError(400, code, message, param=param, type_="invalid_request_error")


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    )
