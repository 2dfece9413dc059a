"""calbot's own face in Chainlit's page (issue 18): name, logo (light and dark), favicon, theme colours, and a welcome
text written for the person using the page (setup stays in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from chainlit.server import app as chainlit_server

import app  # noqa: F401 - the front door, as `chainlit run app.py` loads it

ROOT = Path(__file__).resolve().parents[2]


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=chainlit_server), base_url="http://127.0.0.1:8000")


async def test_the_logo_and_favicon_are_calbots() -> None:
    async with _client() as client:
        for theme in ("light", "dark"):
            logo = await client.get("/logo", params={"theme": theme})
            assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")
            assert logo.content == (ROOT / "public" / f"logo_{theme}.svg").read_bytes()
        favicon = await client.get("/favicon")
        assert favicon.content == (ROOT / "public" / "favicon.svg").read_bytes()


async def test_the_page_is_named_calbot_and_carries_its_colours() -> None:
    async with _client() as client:
        page = await client.get("/")
    assert "<title>calbot</title>" in page.text
    theme = json.loads((ROOT / "public" / "theme.json").read_text())
    assert theme["variables"]["light"]["--primary"] in page.text  # injected for the frontend


def test_the_welcome_text_speaks_to_the_person_not_the_operator() -> None:
    text = (ROOT / "chainlit.md").read_text()
    assert "Confirm" in text and "Discard" in text
    for setup_word in ("OPENAI_API_KEY", "CAL_API_KEY", "OPENAI_BASE_URL", "environment", ".env", "restart"):
        assert setup_word not in text, setup_word
