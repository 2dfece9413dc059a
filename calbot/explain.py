"""The one place that turns errors into sentences a person can act on.

Raw upstream text never reaches the user or the model: each known Cal.com message (API-NOTES §2–§11) maps to our own
sentence, and anything unknown gets a generic one that names the status, not the body.
"""

from __future__ import annotations

import math
import re

from calbot.calcom.errors import (
    AuthenticationError,
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
from calbot.redact import shown
from calbot.timezones import TimeInputError
from calbot.validation import InvalidEmailError

Write = str  # "book" | "cancel" | "reschedule" | None for reads
_WRITE_NOUNS = {"book": "booking", "cancel": "cancellation", "reschedule": "move"}

# The 403 answer of calbot.web_guard to a request that did not come from calbot's own page (issue 15, finding 1).
CROSS_ORIGIN_REFUSED = ("calbot refused this request: it did not come from calbot's own page (another web site or "
                        "address sent it). If you open calbot at another address than the one it listens on (a "
                        "proxy, another host name), add that address as scheme://host:port to "
                        "CALBOT_ALLOWED_ORIGINS and restart calbot.")

# Confirm found the meeting changed since the proposal (a ownership or status check on the booking as it is now):
# what the person is told, by the status the check gave (its own sentence is written for the model).
CONFIRM_REFUSED = {
    "unknown_booking": "That meeting no longer exists in the calendar. Nothing was changed.",
    "not_allowed": "That meeting is no longer one of yours, so it was not changed.",
    "already_cancelled": "That meeting is already cancelled. Nothing was changed.",
    "in_the_past": "That meeting is already over, so it was not changed.",
}
CONFIRM_REFUSED_OTHER = "That meeting can no longer be changed. Nothing was changed."

# The one sentence for a failure of calbot's own code (a bug, an unexpected exception): the chat turn, a Confirm,
# the page's hooks. It names nothing from the exception, which may quote a key or a person's data.
SOMETHING_WENT_WRONG = "Something went wrong on calbot's side; nothing was changed. Please try again."

# The session store (calbot/store) refused a save because another turn of this chat (another process, another tab)
# saved it first: this turn's changes were not kept. Also a Confirm or Discard decided elsewhere first.
CHAT_CHANGED_ELSEWHERE = "This chat was changed elsewhere at the same time; nothing was saved. Please try again."
CHANGE_IN_PROGRESS = "That change is already being made."
NOT_YOUR_CHAT = "There is no such chat for you; start a new chat. Nothing was changed."
# A saved chat reopened (calbot/channels/chainlit_app.py on_chat_resume):
RESUMED_PROPOSAL_OPEN = "This proposal is still open: press Confirm to make the change, or Discard."
RESUMED_PROPOSAL_EXPIRED = ("The proposal in this chat expired while it was closed (its time has passed); nothing "
                            "was changed.")
# Free times as buttons (calbot/channels/choices.py):
FREE_TIMES_NEARBY = "Free times nearby: press one to book it (you still confirm)."
FREE_TIMES_TO_PRESS = "Press a free time to book it (you still confirm)."
# Sign-in (calbot/channels/chainlit_auth.py):
WRONG_EMAIL_OR_PASSWORD = "Wrong email or password."
SIGN_IN_UNAVAILABLE = "Sign-in cannot be checked right now; please try again in a moment."
SIGN_IN_AGAIN = "Please sign in again; nothing was changed."
ACCOUNT_DISABLED = "This account can no longer be used; nothing was changed. Ask whoever runs calbot."
RESUMED_CHAT_GONE = "This chat can no longer be continued (it expired or was removed); start a new chat."
PROPOSAL_NOT_OPEN = "That proposal is no longer open; nothing was changed."  # (also: its chat expired)

# A list calbot could not make because it does not know who the person is (the model gets its own note).
EMAIL_UNKNOWN_FOR_PERSON = ("I don't know your email address yet, so I can't look up your meetings. Meetings you "
                            "book in this chat will show here.")

# (pattern on Cal.com's error.message, our sentence). First match wins.
_KNOWN: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.IGNORECASE), s) for p, s in [
    (r"one of the hosts either already has booking",
     "That time is not free for the team's hosts any more. Pick another of the free times."),
    (r"already has booking at this time or is not available",
     "That time is not free on the calendar any more. Pick another of the free times."),
    (r"can't be booked at the \"?start\"? time",
     "That time is too soon (inside the event's minimum notice) or too far ahead (outside its booking window). "
     "Pick one of the free times."),
    (r"no more seats", "That session is full: no seats are left. Pick another time."),
    (r"in the past", "That time is in the past. Pick a time that is still ahead."),
    (r"maximum number of active bookings",
     "You already have as many active bookings of this kind as the host allows. Reschedule one of them instead."),
    (r"has been cancelled and rescheduled already",
     "That meeting was already moved to a new time. List your meetings and use the new one."),
    (r"can't reschedule booking .* because it has been cancelled",
     "That meeting is cancelled, so it cannot be moved. Book a new one instead."),
    (r"can't cancel booking .* cancelled already", "That meeting was already cancelled; nothing more to do."),
    (r"booking with uid=.* was not found", "I could not find that booking. List your meetings to pick the right one."),
    (r"event type with (id|slug) .* not found|event type .* not found",
     "The event type calbot books is not found in Cal.com. Check CAL_EVENT_TYPE_ID."),
    (r"(user|team) .* not found", "The Cal.com user or team behind this event type was not found."),
    (r"has no hosts", "This team event type has no hosts, so it cannot be booked. The owner must add hosts in Cal.com."),
    (r"lengthinminutes|possible lengths|multiple possible lengths|allowed lengths",
     "That meeting length is not offered by this event type. Use one of its allowed lengths."),
    (r"missing required booking field response",
     "This event type asks a required question calbot cannot answer yet. Book it on the Cal.com page instead."),
    (r"at least one contact method", "An email address is needed to book."),
    (r"phone number", "This event type needs a phone number, which calbot cannot provide yet."),
    (r"seatuid", "This is a seated event; calbot cannot change single seats yet. Use the Cal.com page."),
    (r"trying to create a record that already exists|booking_conflict_error",
     "Someone else booked that time at the same moment. Pick another of the free times."),
]]


def refused_server(variable: str) -> str:
    """OPENAI_BASE_URL or CAL_API_BASE_URL was set but is not usable: calbot neither chats nor reaches the calendar
    rather than send the key meant for that server to the default one."""
    key = "OPENAI_API_KEY" if variable == "OPENAI_BASE_URL" else "CAL_API_KEY"
    return (f"I cannot go on yet: {variable} is set but not valid (the notice above says why), and calbot will not "
            f"send {key} to another server instead. Fix {variable} (or remove it to use the default server) and "
            "restart calbot.")


def _when(seconds: float | None) -> str:
    if seconds is None or seconds <= 0:
        return "in a minute"
    if seconds < 90:
        n = math.ceil(seconds)
        return f"in {n} second{'s' if n != 1 else ''}"
    return f"in {math.ceil(seconds / 60)} minutes"


def explain(exc: BaseException, *, write: Write | None = None) -> str:
    """A plain sentence for `exc`. `write` names the change in progress ("book", "cancel", "reschedule")."""
    change = _WRITE_NOUNS.get(write, write) if write else None
    if isinstance(exc, (TimeInputError, InvalidEmailError)):
        return str(exc)
    if isinstance(exc, CalcomTimeoutError):
        if write:
            return (f"Cal.com did not answer in time, so I cannot tell whether the {change} went through. "
                    "List your meetings to check before trying again.")
        return "Cal.com did not answer in time. Please try again in a moment."
    if isinstance(exc, CalcomConnectionLostError) and write:
        return (f"The connection to Cal.com broke before it answered, so I cannot tell whether the {change} went "
                "through. List your meetings to check before trying again.")
    if isinstance(exc, CalcomUnexpectedResponseError):  # a 2xx/3xx page that is not Cal.com's API
        if write:
            return (f"Cal.com answered in a form calbot does not understand, so I cannot tell whether the {change} "
                    "went through. List your meetings to check, and check that CAL_API_BASE_URL points to the "
                    "Cal.com API.")
        return ("Cal.com answered with something that is not its API, so nothing was changed. Check that "
                "CAL_API_BASE_URL points to the Cal.com API (for example https://api.cal.com/v2).")
    if isinstance(exc, CalcomNetworkError):
        return "I could not reach Cal.com just now; nothing was changed. Please try again in a moment."
    if isinstance(exc, RateLimitedError):
        return f"Cal.com is limiting how often calbot may call it. Please try again {_when(exc.retry_after)}."
    if isinstance(exc, BudgetExceededError):  # not sent (calbot/calcom/budget.py)
        if exc.scope == "chat":
            return ("You are asking too fast: this chat has used its share of calbot's Cal.com requests for the "
                    f"minute, so I did not ask Cal.com; nothing was changed. Please wait and try again "
                    f"{_when(exc.retry_after)}.")
        return ("calbot is busy: its Cal.com requests for this minute are used up, so I did not ask Cal.com; nothing "
                f"was changed. Please try again {_when(exc.retry_after)}.")
    if isinstance(exc, AuthenticationError):
        return ("Cal.com rejected calbot's API key. Check CAL_API_KEY (Cal.com > Settings > Developer > API keys) "
                "and restart calbot.")
    if isinstance(exc, PermissionDeniedError):
        return "Cal.com says calbot's API key is not allowed to do that. Check the key's permissions in Cal.com."
    if isinstance(exc, CalcomAPIError):
        for pattern, sentence in _KNOWN:
            if pattern.search(exc.message or ""):
                return sentence
        if isinstance(exc, SlotUnavailableError):
            return "That time is not free on the calendar any more. Pick another of the free times."
        if isinstance(exc, ServerError):
            if write:
                return (f"Cal.com had an internal error, so I cannot tell whether the {change} went through. "
                        "List your meetings to check before trying again.")
            return "Cal.com had an internal error. Please try again in a minute."
        if isinstance(exc, NotFoundError):
            return "Cal.com could not find that. List your meetings to pick the right one."
        if isinstance(exc, ConflictError):
            return "Cal.com reported a conflict with another change made at the same time. Please try again."
        if exc.status == 200:
            return "Cal.com answered in a form calbot does not understand; nothing was changed."
        return f"Cal.com refused the request (HTTP {exc.status}); nothing was changed."
    if isinstance(exc, CalcomError):
        return "Something went wrong talking to Cal.com; nothing was changed. Please try again."
    return SOMETHING_WENT_WRONG


def explain_connect_error(exc: CalcomError, *, base_url: str | None = None) -> str:
    """The sentence for a failure of the first calls when the calendar connects (GET /v2/me, /v2/event-types).

    With `base_url` (CAL_API_BASE_URL, a real Cal.com): a 404 there means the URL's path is wrong and a connection
    that cannot be made means its host is, so the sentence names CAL_API_BASE_URL and shows it, redacted."""
    where = shown(base_url) if base_url else None
    if where and isinstance(exc, CalcomAPIError) and exc.status == 404:
        return (f"Cal.com has nothing at {where}{exc.path or ''}, so CAL_API_BASE_URL looks wrong. Set it to the "
                "Cal.com API v2 address: https://api.cal.com/v2, or https://<your host>/api/v2 for a self-hosted "
                "Cal.com, and restart calbot.")
    if where and type(exc) is CalcomNetworkError:  # nothing was sent: refused, unknown host, bad TLS, ...
        return (f"calbot could not reach Cal.com at {where}. Check CAL_API_BASE_URL and that the server is "
                "running, then try again.")
    return f"Could not read the Cal.com account: {explain(exc)}"


def _refused(exc: BaseException) -> bool:
    """A connection refused or a name that does not resolve, wherever it sits in the chain of causes. The SDK's
    aiohttp transport (openai._vendor.httpx_aiohttp) maps aiohttp's ClientConnectorError to a ConnectTimeout, so the
    SDK raises APITimeoutError for a server that is not there at all; the cause says what really happened."""
    import aiohttp

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, aiohttp.ClientConnectorError):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def explain_model_error(exc: BaseException, *, model: str | None = None, base_url: str | None = None) -> str:
    """One plain sentence for a failed call to the OpenAI-compatible model endpoint, naming the fix.

    The provider's own text is never used: it can quote part of the key ("Incorrect API key provided: sk-ab***")."""
    import httpx
    import openai

    where = f" at {shown(base_url)}" if base_url and shown(base_url) else ""  # redacted: never a key or password
    timed_out = isinstance(exc, openai.APITimeoutError) or isinstance(exc, (TimeoutError, httpx.TimeoutException))
    if timed_out and not _refused(exc):  # a refused connection the transport calls a timeout: "could not reach"
        return "The model did not answer in time. Please try again in a moment."
    if isinstance(exc, openai.APIConnectionError):
        return (f"calbot could not reach the model server{where}. Check OPENAI_BASE_URL and that the server is "
                "running, then try again.")
    if isinstance(exc, openai.AuthenticationError):
        return "The model server rejected OPENAI_API_KEY. Set OPENAI_API_KEY to a valid key and restart calbot."
    if isinstance(exc, openai.PermissionDeniedError):
        return ("OPENAI_API_KEY is not allowed to use this model. Use a key with access to it, or set OPENAI_MODEL "
                "to a model the key may use.")
    if isinstance(exc, openai.NotFoundError):
        name = f" '{shown(model)}'" if model and shown(model) else ""  # a key pasted as the model is never echoed
        return (f"The model server does not offer the model{name}. Set OPENAI_MODEL to a model it serves (and "
                "check OPENAI_BASE_URL).")
    if isinstance(exc, openai.RateLimitError):
        code = getattr(exc, "code", None) or ""
        if "quota" in str(code):
            return ("The account behind OPENAI_API_KEY has run out of credit. Add credit or set OPENAI_API_KEY to "
                    "another key.")
        return "The model service is limiting requests right now. Please try again in a minute."
    if isinstance(exc, openai.BadRequestError):
        code = str(getattr(exc, "code", None) or "")
        if "context_length" in code:
            return "This chat has grown too long for the model. Please start a new chat."
        return ("The model server refused calbot's request. Check that OPENAI_MODEL supports tool calling, or try "
                "again.")
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "The model service had an internal error. Please try again in a minute."
    if isinstance(exc, openai.APIStatusError):
        return f"The model server refused the request (HTTP {exc.status_code}). Please try again."
    if isinstance(exc, (openai.APIError, httpx.HTTPError)):
        return "The model's answer was cut off. Please try again."
    return "Something went wrong on calbot's side while asking the model. Please try again."


# -- the REST API (calbot/api): problem details and a turn's sentences ------------------------------------------
NO_TOKEN = ("This request needs a token: send 'Authorization: Bearer <token>'. Make one with python -m calbot tokens "
            "create EMAIL.")
BAD_TOKEN = ("This token is not valid: it is mistyped, revoked, or its account is disabled or gone. Make a new one "
             "with python -m calbot tokens create EMAIL.")
NO_CHAT = ("There is no such chat for you: it never existed, belongs to someone else, or expired after {ttl} "
           "without a message. Start a new chat with POST /api/v1/chats.")
NO_PROPOSAL = ("There is no open proposal with this id in this chat (it was never made, or it expired). Send a "
               "message to make a new one.")
ALREADY_ANSWERED = "This proposal was already answered ({status}); nothing more was done."
IN_PROGRESS = "This proposal is being answered by another request right now; nothing more was done."
NOT_JSON = "Send the body as JSON with 'Content-Type: application/json'."
BAD_JSON = "The body is not valid JSON: {reason}."
NOT_AN_OBJECT = "The body must be a JSON object such as {\"message\": \"show my meetings\"}."
BAD_FIELD = "The field '{field}' {problem}."
BLANK_MESSAGE = "The message is empty: write what you would like to do, for example 'book a meeting tomorrow at 3pm'."
TOO_LONG = ("The message is {length:,} characters long; calbot reads up to {most:,}. Nothing was sent: shorten it "
            "and send it again.")
BAD_ZONE = "The time zone {zone!r} is not an IANA time zone name; use one such as Europe/Berlin or America/New_York."
BAD_LIMIT = "limit must be a whole number from 1 to {most}."
BAD_CURSOR = "This cursor is not one calbot gave; leave it out to start from the newest chat."
RATE_LIMITED = "Too many requests with this token: wait {wait} seconds, then try again."
STORE_DOWN = ("The chat database cannot be used now; nothing was changed. Check CALBOT_DATABASE_URL and that the "
              "database server is running, then try again.")
NEEDS_SQL_STORE = "The REST API needs calbot's SQL database (CALBOT_DATABASE_URL or the default SQLite file)."
NOT_FOUND = "There is nothing at this address; the API's documentation is at /api/v1/docs."
METHOD_NOT_ALLOWED = "This address does not take {method} requests; see /api/v1/docs."
API_WITHDRAWN = "The proposal that was open was withdrawn because you sent a new message; nothing was changed."
API_PROPOSED = "Nothing has changed yet: confirm or discard this proposal."
