"""Chats through the REST API: listed newest first with a cursor, read back as words only, deleted, invisible to
another account's token, gone after CALBOT_SESSION_TTL without a message."""

from __future__ import annotations

import json

from testing.openai_fake import say
from tests.agent.conftest import bookings_in
from tests.api.test_flows import BOOK, propose_booking


async def new_chat(api, text: str) -> str:
    answer = await api.post("/chats", {"message": text})
    assert answer.status_code == 201, answer.text
    return answer.json()["chat_id"]


async def test_list_newest_first_with_a_cursor(api, model):
    model.on_request(lambda req: True, say("Noted."))
    ids = []
    for number in range(5):
        ids.append(await new_chat(api, f"note number {number}"))
        api.sessions.advance(1)
    first = (await api.get("/chats?limit=2")).json()
    assert [c["chat_id"] for c in first["chats"]] == ids[::-1][:2]
    assert first["chats"][0]["title"] == "note number 4" and first["next_cursor"]
    second = (await api.get("/chats", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    third = (await api.get("/chats", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    assert [c["chat_id"] for c in second["chats"] + third["chats"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    assert [c["chat_id"] for c in (await api.get("/chats")).json()["chats"]] == ids[::-1]


async def test_a_chat_reads_back_as_words_only(api, model, sandbox):
    turn = await propose_booking(api, model)
    await api.post(f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}/confirm")
    model.on_user("thanks", say("You're welcome."))
    await api.post(f"/chats/{turn['chat_id']}/messages", {"message": "thanks"})

    chat = (await api.get(f"/chats/{turn['chat_id']}")).json()

    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["user", "assistant", "assistant", "user", "assistant"]
    texts = [m["text"] for m in chat["messages"]]
    assert texts[0] == "book me tomorrow at 3pm about the budget review"
    assert texts[1].startswith("Proposed: ") and texts[2].startswith("You answered Confirm. Booked the meeting")
    assert texts[-1] == "You're welcome." and chat["proposal"] is None and chat["time_zone"] == "Europe/Berlin"
    dumped = json.dumps(chat)
    assert "tool_calls" not in dumped and "book_meeting" not in dumped and "awaiting_confirmation" not in dumped
    assert "[The user pressed" not in dumped and "Proposed, waiting" not in dumped


async def test_an_open_proposal_shows_in_the_chat(api, model):
    turn = await propose_booking(api, model)
    chat = (await api.get(f"/chats/{turn['chat_id']}")).json()
    assert chat["proposal"] == turn["proposal"]


async def test_delete_is_204_then_404(api, model):
    model.on_user("hi", say("Hello."))
    chat = await new_chat(api, "hi")
    deleted = await api.delete(f"/chats/{chat}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await api.get(f"/chats/{chat}")).status_code == 404
    assert (await api.delete(f"/chats/{chat}")).status_code == 404
    assert (await api.get("/chats")).json()["chats"] == []


async def test_another_accounts_token_gets_404_everywhere(accounts_api, model, sandbox):
    api = accounts_api
    turn = await propose_booking(api, model)
    chat, proposal = turn["chat_id"], turn["proposal"]["id"]
    bo = await api.new_token("bo@example.com")
    calls = model.calls_count

    answers = [await api.get(f"/chats/{chat}", token=bo),
               await api.post(f"/chats/{chat}/messages", {"message": "yes"}, token=bo),
               await api.post(f"/chats/{chat}/proposals/{proposal}/confirm", token=bo),
               await api.post(f"/chats/{chat}/proposals/{proposal}/discard", token=bo),
               await api.delete(f"/chats/{chat}", token=bo)]

    unknown = await api.get("/chats/never-made", token=bo)
    assert [a.status_code for a in answers] == [404] * 5
    assert {a.json()["detail"] for a in answers} == {unknown.json()["detail"]}  # nothing says that it exists
    assert (await api.get("/chats", token=bo)).json()["chats"] == []
    assert model.calls_count == calls and bookings_in(sandbox) == []
    assert (await api.get(f"/chats/{chat}")).json()["proposal"]["id"] == proposal  # Ana's chat is untouched
    assert (await api.post(f"/chats/{chat}/proposals/{proposal}/confirm")).json()["status"] == "booked"
    assert bookings_in(sandbox)[0]["attendees"][0]["email"] == "ana@example.com"


async def test_a_signed_in_accounts_chats_are_booked_for_its_email(accounts_api, model, sandbox):
    bo = await accounts_api.new_token("bo@example.com")
    model.on_user("book", BOOK)
    turn = (await accounts_api.post("/chats", {"message": "book tomorrow 3pm budget review"}, token=bo)).json()
    await accounts_api.post(f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}/confirm", token=bo)
    assert bookings_in(sandbox)[0]["attendees"][0]["email"] == "bo@example.com"
    assert (await accounts_api.get("/chats")).json()["chats"] == []  # not Ana's


async def test_a_chat_expires_after_the_session_ttl(make_api, model):
    api = await make_api(calbot_session_ttl=600)
    model.on_user("hi", say("Hello."))
    chat = await new_chat(api, "hi")
    api.sessions.advance(599)
    assert (await api.post(f"/chats/{chat}/messages", {"message": "hi again"})).status_code == 200
    api.sessions.advance(599)  # the message above counted as activity
    assert (await api.get(f"/chats/{chat}")).status_code == 200

    api.sessions.advance(2)
    gone = await api.get(f"/chats/{chat}")
    assert gone.status_code == 404 and "expired after 10 minutes" in gone.json()["detail"]
    assert (await api.post(f"/chats/{chat}/messages", {"message": "hi"})).status_code == 404
    assert (await api.get("/chats")).json()["chats"] == []


async def test_an_expired_chats_proposal_cannot_be_confirmed(make_api, model, sandbox):
    api = await make_api(calbot_session_ttl=600)
    model.on_user("book", BOOK)
    turn = (await api.post("/chats", {"message": "book tomorrow 3pm budget review"})).json()
    api.sessions.advance(601)
    assert (await api.post(f"/chats/{turn['chat_id']}/proposals/{turn['proposal']['id']}/confirm")
            ).status_code == 404
    assert bookings_in(sandbox) == []
