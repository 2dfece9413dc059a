"""`chainlit run` serves through uvicorn, which picks its WebSocket and HTTP protocol implementations from what is
installed. requirements.txt installs websockets and httptools so that it picks those rather than the pure-Python
wsproto and h11 (about a tenth less of the app's CPU per chat turn with 100 chats, README Performance). These tests
fail if a requirements change silently drops either, or if Chainlit stops leaving the choice to uvicorn."""

from __future__ import annotations

import inspect

import chainlit.cli
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


def test_uvicorn_serves_websockets_with_the_websockets_library():
    assert AutoWebSocketsProtocol is WebSocketsSansIOProtocol


def test_uvicorn_parses_http_with_httptools():
    assert AutoHTTPProtocol is HttpToolsProtocol


def test_chainlit_run_leaves_the_choice_to_uvicorn():
    """Chainlit 2.12 passes ws=UVICORN_WS_PROTOCOL (default "auto") and no http=, so uvicorn's "auto" applies."""
    source = inspect.getsource(chainlit.cli.run_chainlit)
    assert 'os.environ.get("UVICORN_WS_PROTOCOL", "auto")' in source
    assert "http=" not in source
