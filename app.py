"""calbot's Chainlit entry point (`chainlit run app.py`).

Placeholder until the chat loop lands (issue "Chat: the tool-calling loop and the Chainlit app"): it starts, checks
the configuration and the Cal.com connection, and says plainly what is and is not ready. All logic lives in calbot/.
"""

from __future__ import annotations

import chainlit as cl

from calbot.agent.account import AccountError
from calbot.config import load_settings
from calbot.runtime import Calendar


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label="Check the calendar", message="Is the calendar connected?")]


@cl.on_message
async def on_message(message: cl.Message) -> None:
    settings = load_settings()
    lines = ["calbot's chat is not wired up yet: this build has the calendar core only."]
    lines += [f"- {problem}" for problem in settings.problems]
    if settings.calendar_notice:
        lines.append(f"- {settings.calendar_notice}")
    try:
        calendar = await Calendar.connect(settings)
    except AccountError as exc:
        lines.append(f"- {exc}")
    else:
        where = "the sandbox calendar" if calendar.is_sandbox else "Cal.com"
        lines.append(f"- Connected to {where} as {calendar.account.me.email}; booking event type "
                     f"'{calendar.account.event_type.title}' ({calendar.account.event_type.id}).")
        await calendar.aclose()
    await cl.Message(content="\n".join(lines)).send()
