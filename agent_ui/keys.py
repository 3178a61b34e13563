"""Application keys the workspace keeps its collaborators under."""

from pathlib import Path

from aiohttp import web

from agent_ui.outbound import MailSender
from agent_ui.push import SocketHub
from agent_ui.sessions import DatabaseStorage
from interactions.store import Store

STORE = web.AppKey("agent_ui_store", Store)
#: Where replies go; the email channel puts its SMTP sender here, the default writes .eml.
SENDER = web.AppKey("agent_ui_sender", MailSender)
HUB = web.AppKey("agent_ui_hub", SocketHub)
SESSIONS = web.AppKey("agent_ui_sessions", DatabaseStorage)
DATA_DIR = web.AppKey("agent_ui_data_dir", Path)
