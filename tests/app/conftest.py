"""Fixtures for the Chainlit front door (app.py), without a browser or a server.

Chainlit has no test utilities; this follows the pattern of its own backend tests (../shared/CHAINLIT-NOTES.md,
section 6): a `Mock(spec=WebsocketSession)`, an `AsyncMock(spec=BaseChainlitEmitter)` and a `ChainlitContext` set in
`chainlit.context.context_var`. The hooks in app.py are plain coroutines (Chainlit's decorators return the original
function), so tests call them directly.

- `page`: one browser tab (a chat session with a unique id). `page.attach()` makes it the current Chainlit context;
  call it inside the test coroutine (ChainlitContext needs the running loop, and a context variable set in a sync
  fixture would not reach the test). Everything the emitter is asked to do is recorded in `page.events`, and folded
  into what the tab shows: `page.messages` (assistant messages: content, current actions, removed actions, streamed
  tokens, updates), `page.steps` (tool steps), `page.window_messages`.
- `model`: a ScriptedModel (testing/openai_fake.py); `sandbox`: an in-memory sandbox calendar, clock frozen at NOW;
  `chat`: app.service replaced by a ChatService wired to both (settings from overrides only: no ./.env, no env vars),
  run twice: its chats in memory, and in a SQLite file as the app keeps them.

Importing chainlit writes .chainlit/ and .files/ under CHAINLIT_APP_ROOT (default: the cwd) and loads ./.env into
os.environ. Before the first import this module points CHAINLIT_APP_ROOT at a temporary directory holding a copy of
the repository's .chainlit/config.toml, public/ and chainlit.md (so the tests run with the real [UI] and [features]
settings and calbot's own assets) and
CHAINLIT_ENV_FILE at a file that does not exist.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _isolate_chainlit() -> Path | None:
    if "chainlit" in sys.modules:  # imported earlier in this process: too late to move it
        return None
    root = Path(tempfile.mkdtemp(prefix="calbot-chainlit-"))
    (root / ".chainlit").mkdir()
    shutil.copy(ROOT / ".chainlit" / "config.toml", root / ".chainlit" / "config.toml")
    shutil.copytree(ROOT / "public", root / "public")  # calbot's logo, favicon, theme, script and stylesheet
    shutil.copy(ROOT / "chainlit.md", root / "chainlit.md")
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    # chainlit loads os.path.join(os.getcwd(), CHAINLIT_ENV_FILE): an absolute path wins, and it does not exist.
    os.environ["CHAINLIT_ENV_FILE"] = str(root / "no-such.env")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


CHAINLIT_ROOT = _isolate_chainlit()

import chainlit as cl  # noqa: E402
from chainlit.chat_context import chat_contexts  # noqa: E402
from chainlit.context import ChainlitContext, context_var  # noqa: E402
from chainlit.emitter import BaseChainlitEmitter  # noqa: E402
from chainlit.session import WebsocketSession  # noqa: E402
from chainlit.user_session import user_sessions  # noqa: E402

from calbot.channels import chainlit_app as app  # noqa: E402
from calbot.chat import ChatService
from calbot.store.sql import SqlStore  # noqa: E402
from calbot.config import load_settings  # noqa: E402
from calbot.sandbox import Sandbox, SandboxConfig  # noqa: E402
from testing.openai_fake import ScriptedModel  # noqa: E402
from testing.common import FIXED_NOW, clear_settings_env

# Monday 23 November 2026, 08:00 UTC, as in tests/sandbox/conftest.py (the host works Mon-Fri 09:00-17:00 London).
NOW = FIXED_NOW

# Emitter methods the page understands; a call to any other one is listed in `page.unexpected`.
HANDLED = {"send_step", "update_step", "delete_step", "stream_start", "send_token", "emit", "send_window_message",
           "task_start", "task_end", "send_element"}
_session_numbers = itertools.count(1)


@dataclass
class Shown:
    """One message or step as the tab shows it, folded from the emitter calls that concern its id."""

    id: str
    type: str
    name: str
    content: str = ""
    input: str = ""
    is_error: bool = False
    streamed: bool = False  # it began with stream_start
    tokens: list[str] = field(default_factory=list)  # the stream_start content, then every send_token
    sent: bool = False  # a send_step arrived (for a streamed message: the stream ended)
    sends: int = 0
    updates: int = 0
    deleted: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)  # buttons currently under it
    removed_actions: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)  # the last step dict received

    @property
    def labels(self) -> list[str]:
        return [action["label"] for action in self.actions]


class Page:
    """One chat session (a browser tab) with a recording emitter."""

    def __init__(self) -> None:
        self.session_id = f"test-app-{next(_session_numbers)}-{uuid.uuid4()}"
        session = Mock(spec=WebsocketSession)
        session.id = self.session_id
        session.thread_id = str(uuid.uuid4())
        session.user = None
        session.user_env = {}
        session.chat_settings = {}
        session.chat_profile = None
        session.client_type = "webapp"
        session.has_first_interaction = True
        session.language = "en-US"
        self.session = session

        self.events: list[tuple[str, Any]] = []  # every emitter call, in order
        self.items: dict[str, Shown] = {}  # id -> message/step, in first-seen order
        self.window_messages: list[Any] = []
        self.elements: list[dict[str, Any]] = []  # files and other elements sent (their dicts)
        self.emitter = AsyncMock(spec=BaseChainlitEmitter)
        self.emitter.send_step.side_effect = self._send_step
        self.emitter.update_step.side_effect = self._update_step
        self.emitter.delete_step.side_effect = self._delete_step
        self.emitter.stream_start.side_effect = self._stream_start
        self.emitter.send_token.side_effect = self._send_token
        self.emitter.emit.side_effect = self._emit
        self.emitter.send_window_message.side_effect = self._window_message
        self.emitter.send_element.side_effect = self._send_element

    def attach(self) -> Page:
        """Make this tab the current Chainlit context. Call it inside the running test coroutine."""
        context_var.set(ChainlitContext(self.session, emitter=self.emitter))
        return self

    # -- what the tab shows ----------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[Shown]:
        return [i for i in self.items.values() if i.type == "assistant_message" and not i.deleted]

    @property
    def steps(self) -> list[Shown]:
        return [i for i in self.items.values() if i.type == "tool" and not i.deleted]

    @property
    def texts(self) -> list[str]:
        return [m.content for m in self.messages]

    def everything(self) -> str:
        """All text the page was ever sent (contents, inputs, outputs, tokens, window messages), for leak checks."""
        return "\n".join(repr(event) for event in self.events)

    def mark(self) -> int:
        """A bookmark: `page.messages_since(mark)` lists the messages first shown after it."""
        return len(self.items)

    def messages_since(self, mark: int) -> list[Shown]:
        return [i for i in list(self.items.values())[mark:] if i.type == "assistant_message" and not i.deleted]

    def runs(self, name: str) -> list[Shown]:
        """Chainlit's own run steps (on_chat_start, on_message), sent when a hook is called through Chainlit."""
        return [i for i in self.items.values() if i.type == "run" and i.name == name]

    def steps_since(self, mark: int) -> list[Shown]:
        return [i for i in list(self.items.values())[mark:] if i.type == "tool" and not i.deleted]

    def message_with(self, text: str) -> Shown:
        found = [m for m in self.messages if text in m.content]
        assert len(found) == 1, f"{len(found)} messages contain {text!r}: {self.texts}"
        return found[0]

    def kinds(self, name: str) -> list[Any]:
        return [data for kind, data in self.events if kind == name]

    @property
    def unexpected(self) -> list[str]:
        return [str(c) for c in self.emitter.mock_calls if c[0].split(".")[0] not in HANDLED]

    # -- the emitter -----------------------------------------------------------------------------------------------
    def _item(self, step: dict[str, Any]) -> Shown:
        item = self.items.get(step["id"])
        if item is None:
            item = self.items[step["id"]] = Shown(step["id"], str(step.get("type")), str(step.get("name")))
        item.type, item.name = str(step.get("type")), str(step.get("name"))
        item.content = str(step.get("output") or "")
        item.input = str(step.get("input") or "")
        item.is_error = bool(step.get("isError"))
        item.last = dict(step)
        return item

    def _send_step(self, step: dict[str, Any]) -> None:
        self.events.append(("send_step", dict(step)))
        item = self._item(step)
        item.sent, item.sends = True, item.sends + 1

    def _update_step(self, step: dict[str, Any]) -> None:
        self.events.append(("update_step", dict(step)))
        self._item(step).updates += 1

    def _delete_step(self, step: dict[str, Any]) -> None:
        self.events.append(("delete_step", dict(step)))
        self._item(step).deleted = True

    def _stream_start(self, step: dict[str, Any]) -> None:
        self.events.append(("stream_start", dict(step)))
        item = self._item(step)
        item.streamed = True
        item.tokens.append(item.content)

    def _send_token(self, id: str, token: str, is_sequence: bool = False, is_input: bool = False) -> None:
        self.events.append(("send_token", {"id": id, "token": token, "is_sequence": is_sequence,
                                           "is_input": is_input}))
        item = self.items[id]
        item.tokens.append(token)
        item.content = token if is_sequence else item.content + token

    def _emit(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        if event == "action":
            item = self.items[data["forId"]]
            item.actions = [a for a in item.actions if a["id"] != data["id"]] + [dict(data)]
        elif event == "remove_action":
            item = self.items[data["forId"]]
            item.removed_actions.append(dict(data))
            item.actions = [a for a in item.actions if a["id"] != data["id"]]

    def _send_element(self, element: dict[str, Any]) -> None:
        self.events.append(("send_element", dict(element)))
        self.elements.append(dict(element))

    def _window_message(self, data: Any) -> None:
        self.events.append(("window_message", data))
        self.window_messages.append(data)


def action_of(message: Shown, label: str) -> cl.Action:
    """The cl.Action a click on the button `label` under `message` sends to its callback (as server.call_action
    rebuilds it from the browser's payload)."""
    found = [a for a in message.actions if a["label"] == label]
    assert len(found) == 1, f"no single {label!r} button under the message; buttons: {message.labels}"
    return cl.Action(**found[0])


@pytest.fixture
def page() -> Iterator[Page]:
    tab = Page()
    yield tab
    user_sessions.pop(tab.session_id, None)
    chat_contexts.pop(tab.session_id, None)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    calendar = Sandbox(SandboxConfig(rate_limit=0), ":memory:", lambda: NOW)
    yield calendar
    calendar.close()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no ./.env from the repository
    clear_settings_env(monkeypatch)
    return load_settings(openai_api_key="sk-test", cal_user_email="ana@example.com", cal_user_name="Ana Diaz",
                         calbot_timezone="Europe/Berlin", calbot_sandbox_db=str(tmp_path / "s.db"))


@pytest.fixture(params=["memory", "sqlite"])
async def chat(request: pytest.FixtureRequest, settings, model: ScriptedModel, sandbox: Sandbox, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChatService]:
    """app.service, with its chats in memory or (as the app keeps them) in a SQLite file."""
    store = None
    if request.param == "sqlite":
        store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/chats/calbot.db")
    service = ChatService(settings, model_client=model.client(), sandbox=sandbox, clock=lambda: NOW, store=store)
    monkeypatch.setattr(app, "service", service)
    yield service
    await service.aclose()
    if store is not None:
        await store.close()
