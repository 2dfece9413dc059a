"""The bench model: a ScriptedModel (testing/openai_fake.py) with one rule that answers EVERY request the way a
tool-calling model would, from what the request itself carries.

- A user message is read with a small grammar (book / show / what's free / cancel or move "my meeting at T on D" /
  cancel "the meeting you booked about X" / anything else is small talk) and answered with the tool call a model
  would make, or one sentence.
- A tool result always gets an answer: after `list_meetings` in a cancel- or move-by-time request, the call that
  acts on the meeting found (its uid taken from the result); after any other result, at least one sentence.

Nothing is scripted to stop early: the app decides how often it asks. The app itself does not call the model when a
proposal is shown (the turn ends there) nor for Confirm / Discard.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from testing.openai_fake import RecordedRequest, Reply, ScriptedModel, call, say

MONTHS = {name: number for number, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"], start=1)}
_DATE = (r"(?:today|tomorrow|\d{4}-\d{2}-\d{2}|(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?"
         r"\d{1,2}\s+(?:" + "|".join(MONTHS) + r")(?:\s+\d{4})?)")
_TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2})"

BOOK = re.compile(rf"\bbook\b(?:.*?\b(?P<minutes>\d+)\s*(?:minutes|min)\b)?.*?(?P<date>{_DATE})\s+at\s+"
                  rf"(?P<time>{_TIME})(?:.*?\babout\s+(?P<reason>[^,.]+))?"
                  rf"(?:.*?\bI'?m\s+(?P<name>[A-Z]\w+(?:\s+[A-Z]\w+)*)[,\s]+(?P<email>[^\s,]+@[^\s,]+))?", re.I)
CANCEL_AT = re.compile(rf"\bcancel\b.*?\bmeeting\s+at\s+(?P<time>{_TIME})\s+on\s+(?P<date>{_DATE})", re.I)
MOVE_AT = re.compile(rf"\b(?:move|reschedule)\b.*?\bmeeting\s+at\s+(?P<time>{_TIME})\s+on\s+(?P<date>{_DATE})\s+"
                     rf"to\s+(?P<new_date>{_DATE})\s+at\s+(?P<new_time>{_TIME})", re.I)
CANCEL_ABOUT = re.compile(r"\bcancel\b.*?\bmeeting you booked about\s+(?P<topic>[^,.?!]+)", re.I)
SHOW = re.compile(rf"\b(?:show|list)\b.*?\bmeetings\b(?:\s+on\s+(?P<date>{_DATE}))?", re.I)
FREE = re.compile(rf"\bfree\b.*?\bon\s+(?P<date>{_DATE})", re.I)
UID_NOTE = re.compile(r"\(uid ([A-Za-z0-9_-]+)\)")

SMALL_TALK = "You're welcome. Tell me whenever you want to book, see, cancel or move a meeting."


@dataclass
class Resolution:
    """What the model found when the user referred to an earlier booking by its topic."""
    topic: str
    uid: str | None
    where: str | None  # "confirm note" or "tool result"


@dataclass
class Brain:
    """Answers every request. `now` and `zone` make "today" / "tomorrow" mean what they mean to the user."""
    now: datetime
    zone: str
    resolutions: list[Resolution] = field(default_factory=list)

    def install(self, model: ScriptedModel) -> ScriptedModel:
        model.on_request(lambda request: True, self.answer)
        return model

    # -- parsing ---------------------------------------------------------------------------------------------------
    def day(self, text: str) -> date:
        today = self.now.astimezone(ZoneInfo(self.zone)).date()
        text = text.strip().lower()
        if text == "today":
            return today
        if text == "tomorrow":
            return today + timedelta(days=1)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        found = re.search(r"(\d{1,2})\s+([a-z]+)(?:\s+(\d{4}))?$", text)
        assert found, text
        number, month, year = found.groups()
        candidate = date(int(year) if year else today.year, MONTHS[month], int(number))
        if not year and candidate < today:
            candidate = candidate.replace(year=today.year + 1)
        return candidate

    @staticmethod
    def clock_time(text: str) -> str:
        found = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", text.strip().lower())
        assert found, text
        hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
        if half == "pm" and hour < 12:
            hour += 12
        if half == "am" and hour == 12:
            hour = 0
        return f"{hour:02d}:{minute:02d}"

    # -- answering -------------------------------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> Reply:
        if request.is_tool_result:
            return self.after_tool(request)
        return self.after_user(request)

    def after_user(self, request: RecordedRequest) -> Reply:
        text = request.latest_user_text
        if found := MOVE_AT.search(text):
            return call("list_meetings", from_date=self.day(found["date"]).isoformat(),
                        at_time=self.clock_time(found["time"]))
        if found := CANCEL_ABOUT.search(text):
            topic = found["topic"].strip()
            uid, where = self.find_booking(request.messages, topic)
            self.resolutions.append(Resolution(topic, uid, where))
            if uid:
                return call("cancel_meeting", booking_uid=uid)
            return call("list_meetings")
        if found := CANCEL_AT.search(text):
            return call("list_meetings", from_date=self.day(found["date"]).isoformat(),
                        at_time=self.clock_time(found["time"]))
        if found := BOOK.search(text):
            arguments: dict[str, Any] = {
                "start": f"{self.day(found['date']).isoformat()}T{self.clock_time(found['time'])}",
                "reason": (found["reason"] or "a meeting").strip()}
            if found["minutes"]:
                arguments["duration_minutes"] = int(found["minutes"])
            if found["email"]:
                arguments["attendee_name"], arguments["attendee_email"] = found["name"], found["email"]
            return call("book_meeting", **arguments)
        if found := SHOW.search(text):
            if found["date"]:
                return call("list_meetings", from_date=self.day(found["date"]).isoformat())
            return call("list_meetings")
        if found := FREE.search(text):
            return call("check_availability", date=self.day(found["date"]).isoformat())
        if re.search(r"time ?zone", text, re.I):
            return say(f"You are in {self.zone}; every time I show is in that zone.")
        return say(SMALL_TALK)

    def after_tool(self, request: RecordedRequest) -> Reply:
        name, result = request.last_tool_name, request.last_tool_result
        result = result if isinstance(result, dict) else {}
        text = request.latest_user_text
        if not result.get("ok", False):
            return say(f"That did not work: {result.get('error') or result.get('status') or 'no answer'}.")
        if name == "list_meetings":
            meetings = result.get("meetings") or []
            if (about := CANCEL_ABOUT.search(text)) is not None:
                topic = about["topic"].strip().lower()
                meetings = [m for m in meetings if topic in str(_written(m, "reason")).lower()]
            if meetings and (moved := MOVE_AT.search(text)) is not None:
                new_start = f"{self.day(moved['new_date']).isoformat()}T{self.clock_time(moved['new_time'])}"
                return call("reschedule_meeting", booking_uid=meetings[0]["uid"], new_start=new_start)
            if meetings and (CANCEL_AT.search(text) or about):
                return call("cancel_meeting", booking_uid=meetings[0]["uid"])
            count = result.get("count", len(meetings))
            if not count:
                return say("I found no meeting there.")
            first = meetings[0].get("when", "") if meetings else ""
            return say(f"You have {count} meeting{'s' if count != 1 else ''}; the first is {first}.")
        if name == "check_availability":
            days = result.get("days") or []
            return say("That day is fully booked." if not days else "Those are the free times; pick one and I "
                                                                        "will book it.")
        if name == "set_time_zone":
            return say("Done, I will show times in that zone.")
        return say("Done.")

    @staticmethod
    def find_booking(messages: list[dict[str, Any]], topic: str) -> tuple[str | None, str | None]:
        """The uid of the booking about `topic`, as a model would find it in what it was sent: the proposal it made
        ("... about: <topic>") followed by the note of the user's Confirm ("... (uid X)"), or a meeting with that
        reason in a tool result."""
        wanted = topic.lower()
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            content = message.get("content")
            if message.get("role") != "assistant" or not isinstance(content, str):
                continue
            if f"about: {wanted}" in content.lower():
                for later in messages[index + 1:]:
                    text = later.get("content")
                    if later.get("role") == "assistant" and isinstance(text, str) and \
                            text.startswith("[The user pressed Confirm]") and (found := UID_NOTE.search(text)):
                        return found.group(1), "confirm note"
                break
        for message in reversed(messages):
            if message.get("role") != "tool":
                continue
            try:
                result = json.loads(message.get("content") or "")
            except (TypeError, ValueError):
                continue
            for meeting in (result.get("meetings") or []) if isinstance(result, dict) else []:
                if isinstance(meeting, dict) and wanted in str(_written(meeting, "reason")).lower():
                    return meeting.get("uid"), "tool result"
        return None, None


def _written(meeting: dict[str, Any], key: str) -> Any:
    """A field other people wrote into a meeting of a tool result (kept under "untrusted" by the executor)."""
    written = meeting.get("untrusted")
    return written.get(key, "") if isinstance(written, dict) else ""


def bench_model(now: datetime, zone: str, *, delay: float = 0.0) -> tuple[ScriptedModel, Brain]:
    model = ScriptedModel()
    model.delay = delay
    brain = Brain(now, zone)
    brain.install(model)
    return model, brain
