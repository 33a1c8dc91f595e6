"""Who may call: the API key, Entra ID tokens (HS256 stand-ins), and the admin token.

Azure checks an Entra ID token's signature (against Microsoft's published keys), its audience
and its lifetime. The emulator cannot hold Microsoft's keys, so it trusts tokens signed with a
shared HS256 secret (`--entra-secret`); a local stand-in for the managed-identity endpoint
signs its tokens with `mint_token`. Everything else is checked as Azure does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson

from .errors import ApiError, unauthorized

# A v1 token's `aud` is the resource as it was asked for, with or without the final slash.
# `https://ai.azure.com` is for Foundry resources only; an Azure OpenAI resource refuses it.
AUDIENCES = frozenset(
    {"https://cognitiveservices.azure.com", "https://cognitiveservices.azure.com/"}
)
AUDIENCE = "https://cognitiveservices.azure.com"
# Microsoft.IdentityModel's default clock skew: a token is good until 5 minutes after `exp`.
CLOCK_SKEW = 300
TOKEN_MESSAGE = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
REASON_HEADER = "x-emulator-auth-error"


class TokenError(ApiError):
    """Azure's gateway answers a bad token without the usual `error` wrapper."""

    def __init__(self, reason: str) -> None:
        super().__init__(401, "401", TOKEN_MESSAGE, headers={REASON_HEADER: reason})

    def body(self) -> dict[str, Any]:
        return {"statusCode": 401, "message": TOKEN_MESSAGE}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signing_input: str) -> str:
    return _b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def mint_token(
    secret: str,
    audience: str | list[str] = AUDIENCE,
    lifetime: float = 3600,
    now: float | None = None,
    **claims: Any,
) -> str:
    """An HS256 JWT the emulator started with `secret` accepts (for stand-ins and tests)."""
    issued = int(time.time() if now is None else now)
    payload = {"aud": audience, "iat": issued, "nbf": issued, "exp": int(issued + lifetime)}
    payload.update(claims)
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    signing_input = f"{header}.{_b64(orjson.dumps(payload))}"
    return f"{signing_input}.{_sign(secret, signing_input)}"


def _decode(token: str) -> tuple[dict, dict, str, str]:
    """Header, payload, signing input and signature; ValueError if it is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    header, payload = (orjson.loads(_unb64(part)) for part in parts[:2])
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("not a JWT")
    return header, payload, f"{parts[0]}.{parts[1]}", parts[2]


def _claims_problem(payload: dict, now: float) -> str | None:
    audiences = payload.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not any(isinstance(a, str) and a in AUDIENCES for a in audiences):
        return "audience"
    expires, not_before = payload.get("exp"), payload.get("nbf", 0)
    if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
        return "malformed"
    if now >= expires + CLOCK_SKEW:
        return "expired"
    if now < not_before - CLOCK_SKEW:
        return "not_yet_valid"
    return None


def token_problem(token: str, secret: str | None, now: float) -> str | None:
    """Why Azure would refuse `token`, or None when it is good."""
    try:
        header, payload, signing_input, signature = _decode(token)
    except ValueError:  # also orjson's and base64's errors
        return "malformed"
    if header.get("alg") != "HS256":
        return "algorithm"  # "none" and every other algorithm: the emulator trusts one key
    if not secret:
        return "untrusted"  # an empty secret is no secret: anyone could sign with it
    # Bytes, not str: compare_digest raises on non-ASCII text, and a caller's bad signature
    # must be a 401, never a crashed request.
    if not hmac.compare_digest(signature.encode(), _sign(secret, signing_input).encode()):
        return "signature"
    return _claims_problem(payload, now)


def _key_ok(key: str, api_key: str | None) -> bool:
    # No configured key stands for a resource with key access disabled; an empty one too
    # (`--api-key "$KEY"` with KEY unset), since Azure never accepts an empty key.
    if not api_key or not key:
        return False
    return hmac.compare_digest(key.encode(), api_key.encode())


def check_caller(
    headers: Any, v1: bool, api_key: str | None, entra_secret: str | None, now: float
) -> None:
    """Raises the 401 Azure gives a call without a good key or token."""
    key = headers.get("api-key")
    if key is not None:
        if not _key_ok(key, api_key):
            raise unauthorized()
        return
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    if v1 and "." not in token:
        # The v1 API takes the key as a Bearer value: `OpenAI(api_key=KEY)` sends it so.
        if not _key_ok(token, api_key):
            raise unauthorized()
        return
    problem = token_problem(token, entra_secret, now)
    if problem is not None:
        raise TokenError(problem)


def check_admin(headers: Any, admin_token: str | None) -> None:
    """Admin endpoints need `Authorization: Bearer <admin token>`; without one configured
    they are off, also with an empty one (`--admin-token "$TOKEN"` with TOKEN unset)."""
    if not admin_token:
        raise ApiError(
            403,
            "AdminDisabled",
            "The emulator's admin endpoints are off: start it with --admin-token TOKEN "
            "(EmulatorConfig.admin_token) and send 'Authorization: Bearer TOKEN'.",
        )
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    good = scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), admin_token.encode()
    )
    if not good:
        raise ApiError(
            401, "401", "The admin endpoints need 'Authorization: Bearer <admin token>'."
        )
