"""Another web site must not drive calbot (issue 15, finding 1): what the attacker did, in the browser.

A page served from another local port (http.server on a free 127.0.0.1 port: another origin, though "same-site")
runs the script a malicious site would, in the browser of someone who has calbot open (same browser context, so
calbot's cookie goes along with its requests):
- read socket.io's polling transport with credentials;
- open a WebSocket to socket.io, start a chat, ask "cancel my meeting ...", read the events for the Confirm action;
- POST /project/action to press Confirm, and, to show that acting fails even with the ids in hand, POST the
  Confirm action of a proposal open in calbot's own page (its session id and action, as if leaked);
- show calbot in a frame (a click-jacking page).
The same script run from calbot's own origin (the control) does chat, read the proposal and confirm it, so this
test fails if the guard (calbot/web_guard.py) stops protecting. The calendar is the app's sandbox file, seeded
here: the attacked booking must still be there, and only the control's booking cancelled.
Day: weekday(11), see helpers.py (the attacked booking at 09:00, the control's at 11:00, New York).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.helpers import NEW_YORK, USER_EMAIL, USER_NAME, at, bookings, local_day, seed, weekday
from testing.openai_fake import call

# The attacker's script. calbotChat speaks Engine.IO 4 / Socket.IO 5 as Chainlit's page does (the handshake packet
# "0{...}", the connect "40{auth}", events "42[name, data]", pings "2" answered "3") and keeps the socket open after
# the Confirm action arrives; calbotPress presses a button as the page does (POST /project/action).
CHAT_JS = r"""
window.calbotChat = async (app, text, zone) => {
  const uuid = () => "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx".replace(/x/g, () => (Math.random() * 16 | 0).toString(16));
  const out = {polling: null, socketOpened: false, closed: false, events: [], sessionId: uuid(), action: null,
               outcome: null};
  window.__calbot = out;
  try {
    const r = await fetch(app + "/ws/socket.io/?EIO=4&transport=polling&t=" + Date.now(), {credentials: "include"});
    out.polling = {status: r.status, body: (await r.text()).slice(0, 200)};
  } catch (e) {
    out.polling = {error: String(e)};
  }
  await new Promise((resolve) => {
    const ws = new WebSocket(app.replace(/^http/, "ws") + "/ws/socket.io/?EIO=4&transport=websocket");
    window.__calbotSocket = ws;
    const emit = (...args) => ws.send("42" + JSON.stringify(args));
    let asked = false;
    const timer = setTimeout(resolve, 20000);
    const done = () => { clearTimeout(timer); resolve(); };
    ws.onopen = () => { out.socketOpened = true; };
    ws.onerror = () => done();
    ws.onclose = () => { out.closed = true; done(); };
    ws.onmessage = (event) => {
      const data = String(event.data);
      if (data === "2") { ws.send("3"); return; }
      if (data[0] === "0") {
        ws.send("40" + JSON.stringify({clientType: "webapp", sessionId: out.sessionId, threadId: "", userEnv: "{}",
                                       chatProfile: ""}));
        return;
      }
      if (data.startsWith("40")) { emit("connection_successful"); return; }
      if (!data.startsWith("42")) return;
      const [name, payload] = JSON.parse(data.slice(2));
      out.events.push(name);
      if (name === "window_message" && payload && payload.type === "calbot:time_zone?") {
        emit("window_message", {type: "calbot:time_zone", time_zone: zone});
      } else if (name === "task_end" && !asked) {
        asked = true;
        emit("client_message", {message: {threadId: "", id: uuid(), name: "User", type: "user_message", output: text,
                                          createdAt: new Date().toISOString(), metadata: {location: location.href}},
                                fileReferences: []});
      } else if (name === "action" && payload && payload.name === "confirm") {
        out.action = payload;
        done();
      } else if (name === "new_message" && payload && String(payload.output).includes("Cancelled:")) {
        out.outcome = String(payload.output);
      }
    };
  });
  return JSON.parse(JSON.stringify(out));
};

window.calbotPress = async (app, sessionId, action) => {
  try {
    const r = await fetch(app + "/project/action", {method: "POST", credentials: "include",
      headers: {"content-type": "application/json"}, body: JSON.stringify({sessionId, action})});
    return {status: r.status};
  } catch (e) {
    return {error: String(e)};
  }
};

window.calbotOutcome = async () => {
  for (let i = 0; i < 100 && !(window.__calbot && window.__calbot.outcome); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return window.__calbot ? window.__calbot.outcome : null;
};
"""


def _attacker_page(app_url: str) -> bytes:
    return f"""<!doctype html>
<html><head><title>A page on another site</title><script>{CHAT_JS}</script></head>
<body><h1>Totally harmless</h1><iframe id="framed" src="{app_url}/" width="800" height="600"></iframe></body></html>
""".encode()


@pytest.fixture(scope="module")
def attacker(app_server) -> Iterator[str]:
    """http://127.0.0.1:<another port>/: the attacker's page, naming the app's URL."""
    page = _attacker_page(app_server.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, body = (200, page) if self.path.split("?")[0] == "/" else (404, b"not here")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _chat(page, app_url: str, text: str) -> dict:
    return page.evaluate("([app, text, zone]) => window.calbotChat(app, text, zone)", [app_url, text, NEW_YORK])


def _press(page, app_url: str, session_id: str, action: dict) -> dict:
    return page.evaluate("([app, id, action]) => window.calbotPress(app, id, action)", [app_url, session_id, action])


def test_another_site_can_neither_read_nor_act(app_server, calendar, page_in, attacker):
    model = app_server.model
    model.reset()
    day = weekday(11)
    attacked = seed(calendar, at(day, 9), email=USER_EMAIL, name=USER_NAME, about="Board meeting")
    control = seed(calendar, at(day, 11), email=USER_EMAIL, name=USER_NAME, about="Coffee")
    for hour in (9, 11):
        model.on_user(f"^cancel my meeting on {local_day(day)} at {hour}am",
                      call("list_meetings", from_date=day.isoformat(), at_time=f"{hour:02d}:00"))
    model.on_tool_result("list_meetings",
                         lambda r: call("cancel_meeting", booking_uid=r.last_tool_result["meetings"][0]["uid"]))

    # The person has calbot open (so its cookie is in this browser), then visits the attacker's page.
    calbot_tab = page_in(NEW_YORK)
    context = calbot_tab.context
    evil = context.new_page()
    evil.goto(attacker + "/")

    # 1. Read and act through the socket, as the attacker did.
    attack = _chat(evil, app_server.url, f"cancel my meeting on {local_day(day)} at 9am")
    assert "error" in attack["polling"], attack  # no answer readable (403, and no CORS header)
    assert not attack["socketOpened"] and attack["events"] == [] and attack["action"] is None, attack
    assert model.calls_count == 0  # the message never reached calbot
    blind = _press(evil, app_server.url, attack["sessionId"],
                   {"name": "confirm", "payload": {"proposal_id": "guessed"}, "label": "Confirm", "id": "x"})
    assert "error" in blind, blind

    # 2. The control: the same steps from calbot's own origin work (so the test can fail).
    own = context.new_page()
    own.goto(app_server.url + "/health")
    own.add_script_tag(content=CHAT_JS)
    chat = _chat(own, app_server.url, f"cancel my meeting on {local_day(day)} at 11am")
    assert chat["socketOpened"] and "action" in chat["events"], chat
    assert chat["polling"]["status"] == 200 and chat["polling"]["body"].startswith("0{"), chat
    assert chat["action"]["name"] == "confirm" and model.calls_count == 2

    # 3. Even with a real session id and action in hand (leaked), the other site cannot press Confirm.
    leaked = _press(evil, app_server.url, chat["sessionId"], chat["action"])
    assert "error" in leaked, leaked
    assert bookings(app_server.sandbox_db)[control].status == "accepted"

    # 4. calbot's own origin can.
    assert _press(own, app_server.url, chat["sessionId"], chat["action"]) == {"status": 200}
    outcome = own.evaluate("() => window.calbotOutcome()")
    assert outcome and "Cancelled:" in outcome, outcome
    assert bookings(app_server.sandbox_db)[control].status == "cancelled"

    # 5. The attacked meeting is untouched; the model was asked only by the control.
    assert bookings(app_server.sandbox_db)[attacked].status == "accepted"
    assert model.calls_count == 2
    assert all("9am" not in r.latest_user_text for r in model.requests)
    # Whoever runs calbot can see what was refused and which setting would allow it.
    log = app_server.log.read_text()
    assert f"Origin '{attacker}'" in log and "CALBOT_ALLOWED_ORIGINS" in log


def test_another_site_cannot_frame_calbot(app_server, page_in, attacker):
    """frame-ancestors 'self': calbot in a frame on the attacker's page stays empty; in its own origin it loads."""
    context = page_in(NEW_YORK).context
    evil = context.new_page()
    evil.goto(attacker + "/")
    evil.wait_for_load_state("load")
    framed = evil.frame_locator("#framed")
    evil.wait_for_timeout(1500)
    assert framed.locator("#starter-book-a-meeting").count() == 0

    own = context.new_page()
    own.goto(app_server.url + "/health")
    own.evaluate("""(url) => { const f = document.createElement("iframe"); f.id = "framed"; f.src = url;
                               f.width = 800; f.height = 600; document.body.appendChild(f); }""", app_server.url + "/")
    own.frame_locator("#framed").locator("#starter-book-a-meeting").wait_for()

