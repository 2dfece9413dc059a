"""calbot's REST API, served under /api/v1 by the same `chainlit run app.py` process as the page (issue 19).

    from calbot.api import install
    install(chainlit.server.app, service)   # calbot/api/mount.py does this for app.py

`install` mounts the API (a FastAPI app: routes.py) at /api/v1 and moves the mount to the front of the route list:
Chainlit registers a catch-all `GET /{full_path:path}` (the page) at import, and a route added after it would never
be reached. The page is untouched: every other path still reaches Chainlit. The origin guard (calbot/web_guard.py)
and Chainlit's middleware wrap the API too; a Bearer request from a script carries no Origin and passes."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Mount

from calbot.api.auth import RateLimiter
from calbot.api.routes import create_api

PREFIX = "/api/v1"

__all__ = ["PREFIX", "RateLimiter", "create_api", "install"]


def install(app: Any, service: Any, *, limiter: RateLimiter | None = None) -> Any:
    """Mount the API on `app` (Chainlit's FastAPI app, or any Starlette app) ahead of its other routes; once."""
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path == PREFIX:
            return route.app
    api = create_api(service, limiter=limiter)
    mount = Mount(PREFIX, app=api)
    # Starlette's Mount matches `/api/v1/(?P<path>.*)`, where `.` stops at a newline: a path holding an encoded
    # newline (%0A) would fall through to the page's routes and be answered outside the API. DOTALL keeps every
    # path under /api/v1 in the API.
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    app.router.routes.insert(0, mount)  # ahead of Chainlit's catch-all GET /{full_path:path}
    return api
