"""Book, cancel and reschedule through the REST API against the sandbox calendar; confirm once; typed yes and no;
the event stream of a turn."""

from __future__ import annotations

import json
from typing import Any

import httpx

from testing.openai_fake import call, say
from tests.agent.conftest import bookings_in, calendar_requests, seed_booking
from tests.agent.test_loop import WED, london

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")


async def propose_booking(api: Any, model: Any) -> dict[str, Any]:
    model.on_user("book", BOOK)
    answer = await api.post("/chats", {"message": "book me tomorrow at 3pm about the budget review"})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_book_then_confirm(api, model, sandbox):
    turn = await propose_booking(api, model)
    proposal = turn["proposal"]
    assert proposal["action"] == "book" and proposal["time_zone"] == "Europe/Berlin"
    assert proposal["start"] == "2026-11-24T15:00:00+01:00" and proposal["end"] == "2026-11-24T15:30:00+01:00"
    # the chat expires first (CALBOT_SESSION_TTL, an hour after this message), else the meeting's start would
    assert proposal["expires_at"] == "2026-11-23T10:00:00+01:00" and "budget review" in proposal["summary"]
    assert "Nothing has changed yet" in turn["reply"] and bookings_in(sandbox) == []
    assert "Proposed, waiting" not in turn["reply"] and "next" not in turn["reply"]

    done = await api.post(f"/chats/{turn['chat_id']}/proposals/{proposal['id']}/confirm")

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["ok"], body["status"]) == (True, "booked") and body["message"].startswith("Booked the meeting")
    assert body["booking"]["start"] == "2026-11-24T15:00:00+01:00" and body["booking"]["duration_minutes"] == 30
    [booking] = bookings_in(sandbox)
    assert booking["attendees"][0]["email"] == "ana@example.com"


async def test_confirm_twice_is_409_and_books_once(api, model, sandbox):
    turn = await propose_booking(api, model)
    path = f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}"
    assert (await api.post(f"{path}/confirm")).status_code == 200

    again = await api.post(f"{path}/confirm")
    discarded = await api.post(f"{path}/discard")

    assert again.status_code == 409 and discarded.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already answered" in again.json()["detail"]
    assert len(calendar_requests(sandbox, "POST", "/v2/bookings")) == 1 and len(bookings_in(sandbox)) == 1


async def test_discard_writes_nothing_and_a_later_confirm_is_409(api, model, sandbox):
    turn = await propose_booking(api, model)
    path = f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}"
    discarded = await api.post(f"{path}/discard")
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert (await api.post(f"{path}/confirm")).status_code == 409
    assert bookings_in(sandbox) == []


async def test_cancel_through_the_api(api, model, sandbox):
    booking = seed_booking(sandbox, london(WED, 10))  # 11:00 in Berlin
    model.on_user("cancel", call("list_meetings", from_date="2026-11-25", at_time="11:00"))
    model.on_tool_result("list_meetings", lambda req: call(
        "cancel_meeting", booking_uid=req.last_tool_result["meetings"][0]["uid"], reason="clash"))
    turn = (await api.post("/chats", {"message": "cancel my meeting on Wednesday at 11"})).json()
    assert turn["proposal"]["action"] == "cancel" and turn["proposal"]["start"] == "2026-11-25T11:00:00+01:00"
    assert [m["uid"] for m in turn["meetings"]] == [booking["uid"]]

    done = await api.post(f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}/confirm")

    assert done.json()["status"] == "cancelled"
    assert [b["status"] for b in bookings_in(sandbox)] == ["cancelled"]


async def test_reschedule_through_the_api(api, model, sandbox):
    seed_booking(sandbox, london(WED, 10))
    model.on_user("move", call("list_meetings", from_date="2026-11-25", at_time="11:00"))
    model.on_tool_result("list_meetings", lambda req: call(
        "reschedule_meeting", booking_uid=req.last_tool_result["meetings"][0]["uid"], new_start="2026-11-25T14:00"))
    turn = (await api.post("/chats", {"message": "move my Wednesday 11:00 meeting to 2pm"})).json()
    proposal = turn["proposal"]
    assert proposal["action"] == "reschedule" and proposal["previous_start"] == "2026-11-25T11:00:00+01:00"
    assert proposal["start"] == "2026-11-25T14:00:00+01:00"

    done = await api.post(f"/chats/{turn['chat_id']}/proposals/{proposal['id']}/confirm")

    assert done.json()["status"] == "rescheduled", done.text
    live = [b for b in bookings_in(sandbox) if b["status"] == "accepted"]
    assert [b["start"] for b in live] == ["2026-11-25T13:00:00.000Z"]


async def test_free_times_in_the_chats_zone(api, model):
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", say("You are free most of Tuesday."))
    turn = (await api.post("/chats", {"message": "when am I free on Tuesday?", "time_zone": "America/New_York"})
            ).json()
    assert turn["reply"].endswith("You are free most of Tuesday.") and turn["time_zone"] == "America/New_York"
    assert turn["free_times"][0] == {"start": "2026-11-24T04:00:00-05:00", "end": "2026-11-24T12:00:00-05:00"}


async def test_typed_yes_confirms_and_typed_no_discards(api, model, sandbox):
    turn = await propose_booking(api, model)
    calls = model.calls_count
    yes = await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "yes please"})
    assert yes.status_code == 200 and model.calls_count == calls
    answered = yes.json()["answered"]
    assert (answered["button"], answered["status"], answered["proposal_id"]) == ("Confirm", "booked",
                                                                                turn["proposal"]["id"])
    assert yes.json()["proposal"] is None and len(bookings_in(sandbox)) == 1

    model.on_user("4pm", call("book_meeting", start="2026-11-24T16:00", reason="budget review"))
    second = (await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "one more at 4pm"})).json()
    no = (await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "no"})).json()
    assert no["answered"]["status"] == "discarded" and no["answered"]["proposal_id"] == second["proposal"]["id"]
    assert len(bookings_in(sandbox)) == 1


async def test_yes_with_no_open_proposal_goes_to_the_model(api, model, sandbox):
    model.on_user("hello", say("Hello! What would you like to do?"))
    turn = (await api.post("/chats", {"message": "hello"})).json()
    model.on_user(r"^yes$", say("Yes to what? Tell me what to book."))
    calls = model.calls_count
    answer = (await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "yes"})).json()
    assert model.calls_count == calls + 1 and "answered" not in answer
    assert answer["reply"] == "Yes to what? Tell me what to book." and bookings_in(sandbox) == []


def events_of(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


async def test_the_event_stream_of_a_turn(api, model):
    model.on_user("book", call("check_availability", date="2026-11-24", text="Let me look."))
    model.on_tool_result("check_availability", BOOK)
    answer = await api.post("/chats", {"message": "book me tomorrow at 3pm"}, headers={"Accept": "text/event-stream"})

    assert answer.status_code == 201 and answer.headers["content-type"].startswith("text/event-stream")
    events = events_of(answer.text)
    kinds = [kind for kind, _ in events]
    first_text = kinds.index("text")
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert first_text < kinds.index("tool_started") < kinds.index("tool_finished") < kinds.index("proposal")
    assert [data["name"] for kind, data in events if kind == "tool_started"] == ["check_availability",
                                                                                 "book_meeting"]
    final = events[-1][1]
    assert final["proposal"] == events[kinds.index("proposal")][1] | {"expires_at": final["proposal"]["expires_at"]}
    assert "".join(data["text"] for kind, data in events if kind == "text") == "Let me look."
    chat = await api.get(f"/chats/{final['chat_id']}")
    assert chat.json()["proposal"]["id"] == final["proposal"]["id"]


async def test_a_streamed_error_ends_with_an_error_event(api, model):
    from testing.openai_fake import fail
    model.on_user("hi", fail(401, "Incorrect API key provided: sk-test"))
    answer = await api.post("/chats", {"message": "hi"}, headers={"Accept": "text/event-stream"})
    kind, data = events_of(answer.text)[-1]
    assert kind == "error" and data["status"] == 503 and "sk-test" not in answer.text


async def test_the_page_is_not_shadowed(api):
    page = await api.client.get("/")
    assert page.status_code == 200 and page.text == "<html>the page</html>"
    assert (await api.client.get("/some/chat/thread")).text == "<html>the page</html>"
    assert (await api.client.get("/api/v1/health")).json()["status"] == "ok"
    assert isinstance((await api.client.get("/api/v1/openapi.json")).json()["paths"], dict)
    assert "swagger" in (await api.client.get("/api/v1/docs")).text.lower()
    assert httpx.codes.is_success((await api.client.get("/api/v1/health")).status_code)


async def test_a_typed_yes_streams_its_answer(api, model, sandbox):
    turn = await propose_booking(api, model)
    answer = await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "yes"},
                            headers={"Accept": "text/event-stream"})
    events = events_of(answer.text)
    assert [kind for kind, _ in events] == ["answered", "done"]
    assert events[0][1]["status"] == "booked" and events[1][1]["answered"] == events[0][1]
    assert len(bookings_in(sandbox)) == 1


async def test_two_confirms_at_once_book_once(api, model, sandbox):
    import asyncio
    turn = await propose_booking(api, model)
    path = f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}/confirm"
    answers = await asyncio.gather(*(api.post(path) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    assert len(calendar_requests(sandbox, "POST", "/v2/bookings")) == 1 and len(bookings_in(sandbox)) == 1
