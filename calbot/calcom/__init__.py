"""Cal.com API v2: the async client, its payload models and its typed errors."""

from calbot.calcom.client import CalcomClient
from calbot.calcom.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CalcomAPIError,
    CalcomConnectionLostError,
    CalcomError,
    CalcomNetworkError,
    CalcomTimeoutError,
    CalcomUnexpectedResponseError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SlotUnavailableError,
)
from calbot.calcom.models import Attendee, Booking, EventType, Me, Slot

__all__ = [
    "AuthenticationError", "BadRequestError", "BudgetExceededError", "CalcomAPIError", "CalcomClient",
    "CalcomConnectionLostError", "CalcomError", "CalcomNetworkError", "CalcomTimeoutError",
    "CalcomUnexpectedResponseError", "ConflictError", "NotFoundError",
    "PermissionDeniedError", "RateLimitedError", "ServerError", "SlotUnavailableError", "Attendee", "Booking",
    "EventType", "Me", "Slot",
]
