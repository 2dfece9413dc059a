"""Front doors: thin adapters that turn what a person does on a channel into calls of the chat service (calbot/chat.py,
by chat id) and its events into what the channel shows. Today the Chainlit page (chainlit_app.py, with render.py's
Markdown); the REST API and WhatsApp come next. A front door holds no rule of its own."""
