"""What the sandbox's calendar modules share: Cal.com's refusal (ApiError), its UTC time format and its uids."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

# HTTP status -> the NestJS exception class name Cal.com puts in error.code, and the reason phrase in details.error.
EXCEPTIONS = {
    400: ("BadRequestException", "Bad Request"),
    401: ("UnauthorizedException", "Unauthorized"),
    403: ("ForbiddenException", "Forbidden"),
    404: ("NotFoundException", "Not Found"),
    409: ("ConflictException", "Conflict"),
    413: ("PayloadTooLargeException", "Payload Too Large"),
    422: ("UnprocessableEntityException", "Unprocessable Entity"),
    429: ("ThrottlerException", "Too Many Requests"),
    500: ("InternalServerErrorException", "Internal Server Error"),
    502: ("BadGatewayException", "Bad Gateway"),
    503: ("ServiceUnavailableException", "Service Unavailable"),
    504: ("GatewayTimeoutException", "Gateway Timeout"),
}


class ApiError(Exception):
    """A refusal as Cal.com words it. `code` defaults to the NestJS exception name for `status`."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        name, phrase = EXCEPTIONS.get(status, ("HttpException", "Error"))
        self.code = code or name
        self.details = details if details is not None else {"message": message, "error": phrase,
                                                            "statusCode": status}


def iso(instant: datetime) -> str:
    """Cal.com's UTC output format: 2026-11-24T09:00:00.000Z."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


_UID_ALPHABET = string.ascii_letters + string.digits


def new_uid() -> str:
    """22 characters like Cal.com's booking uids (e.g. 2NtaeaVcKfpmSZ4CthFdfk)."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(22))
