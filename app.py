"""`chainlit run app.py`: Chainlit needs the app's file at the top of the project; calbot's Chainlit front door lives in
calbot/channels/chainlit_app.py (hooks and rendering), and importing it registers its hooks with Chainlit."""

from calbot.channels import chainlit_app  # noqa: F401  (the import registers the hooks)
from calbot.api import mount  # noqa: F401  (the import serves the REST API under /api/v1, ahead of the page)
