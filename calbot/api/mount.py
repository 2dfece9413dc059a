"""Importing this module (app.py does) serves the REST API under /api/v1 of Chainlit's server, with the page's own
chat service (calbot.channels.chainlit_app.service): one process, one store, one calendar connection."""

from chainlit.server import app

from calbot.api import install
from calbot.channels.chainlit_app import service

api = install(app, service)
