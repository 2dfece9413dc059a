"""The page's main states, photographed for the README (docs/screenshots/) and checked as they are taken: a
proposal with its Confirm and Discard buttons, the free times offered for a taken time, and the meetings list at
1280 px and at a phone's 390 px, where every column's content must still be on screen (nothing cut off).
Days: weekday(15) and weekday(16), see helpers.py."""

from __future__ import annotations

from tests.e2e.helpers import NEW_YORK, USER_EMAIL, USER_NAME, at, local_day, no_model_text, seed, send, shown, weekday
from testing.openai_fake import call, say
from testing.processes import ROOT

SHOTS = ROOT / "docs" / "screenshots"


def snap(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_proposal_and_free_times(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(15)
    seed(calendar, at(day, 10), email="carol@example.com", name="Carol King", about="Carol's slot")
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Quarterly planning"))
    model.on_tool_result("book_meeting", say("10:00 is taken. Pick one of the free times below, or tell me another."),
                         when=lambda result: result.get("status") == "slot_unavailable")
    page = page_in(NEW_YORK)
    send(page, f"book 30 minutes on {local_day(day)} at 10am for the quarterly planning")
    shown(page, "Pick one of the free times")
    snap(page, "free-times")
    no_model_text(page)
    with page.expect_response(lambda r: "/project/action" in r.url):
        page.get_by_role("button", name=f"{day:%a} {day.day} {day:%b} 10:30").click()
    confirm = page.get_by_role("button", name="Confirm")
    confirm.wait_for()
    confirm.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    snap(page, "proposal")
    # The buttons are large, and Confirm is filled in calbot's colour (public/calbot.css).
    box = confirm.bounding_box()
    assert box and box["height"] >= 40, box
    assert confirm.evaluate("b => getComputedStyle(b).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")


def test_meetings_list_at_1280_and_390_px(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(16)
    for hour, about in ((9, "Design review"), (11, "1:1 with Sam")):
        seed(calendar, at(day, hour), email=USER_EMAIL, name=USER_NAME, about=about)
    model.on_user(r"^show", call("list_meetings", from_date=day.isoformat(), to_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("Those are your meetings that day."))
    page = page_in(NEW_YORK)
    send(page, f"show my meetings on {local_day(day)}")
    shown(page, "Those are your meetings that day.")
    snap(page, "meetings-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    table = page.locator(".message-content table").last
    table.scroll_into_view_if_needed()
    snap(page, "meetings-390")
    # Every cell is inside the screen's width: no column is cut off or needs a sideways scroll.
    overflow = page.evaluate("""() => {
      const cells = [...document.querySelectorAll('.message-content table')].pop().querySelectorAll('th, td');
      return [...cells].filter(c => c.getBoundingClientRect().right > window.innerWidth + 1).map(c => c.innerText);
    }""")
    assert overflow == [], overflow
    text = table.inner_text()
    assert "Design review" in text and "1:1 with Sam" in text and "booked" in text
    no_model_text(page)
