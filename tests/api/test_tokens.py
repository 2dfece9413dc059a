"""API tokens (calbot/accounts/tokens.py): who may hold one, stored hashed, verified, revoked; `python -m calbot
tokens` end to end in a fresh directory; migration 0004 on a database made at 0003."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from calbot.accounts.tokens import TokenError, TokenStore
from calbot.store.sql import MIGRATIONS, SqlStore
from tests.api.conftest import FAST

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def tokens(tmp_path: Path):
    store = await TokenStore.open(f"sqlite+aiosqlite:///{tmp_path}/calbot.db")
    yield store
    await store.close()


async def test_single_user_tokens_are_for_cal_user_email_only(tokens):
    record, secret = await tokens.create("Ana@Example.com", name="script", single_user_email="ana@example.com")
    assert record.email == "ana@example.com" and record.name == "script" and secret.startswith("calbot_")
    assert (await tokens.verify(secret)).id == record.id
    with pytest.raises(TokenError, match="may not hold a token"):
        await tokens.create("bo@example.com", single_user_email="ana@example.com")
    with pytest.raises(TokenError, match="may not hold a token"):
        await tokens.create("ana@example.com", single_user_email=None)
    with pytest.raises(TokenError, match="not a valid email"):
        await tokens.create("not-an-email", single_user_email="ana@example.com")


async def test_with_accounts_only_active_accounts_hold_tokens(tokens):
    await tokens.accounts.add("bo@example.com", "long-enough-password")
    await tokens.create("bo@example.com")
    with pytest.raises(TokenError):  # CAL_USER_EMAIL is no longer enough once there are accounts
        await tokens.create("ana@example.com", single_user_email="ana@example.com")
    await tokens.accounts.disable("bo@example.com")
    with pytest.raises(TokenError):
        await tokens.create("bo@example.com")


async def test_only_the_hash_is_stored_and_revoked_tokens_fail(tokens):
    record, secret = await tokens.create("ana@example.com", single_user_email="ana@example.com")
    async with tokens.engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM api_tokens"))).mappings().all()
    assert secret not in str(rows) and rows[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert await tokens.verify(secret + "x") is None and await tokens.verify("calbot_nope") is None
    assert await tokens.verify(secret[len("calbot_"):]) is None
    assert (await tokens.revoke(record.id)).id == record.id
    assert await tokens.verify(secret) is None
    with pytest.raises(TokenError, match="already revoked"):
        await tokens.revoke(record.id)
    with pytest.raises(TokenError, match="no token with the id"):
        await tokens.revoke("nope")


def run(cwd: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run([sys.executable, "-m", "calbot", "tokens", *args], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_tokens_command_in_a_fresh_directory(tmp_path: Path) -> None:
    refused = run(tmp_path, "create", "ana@example.com")
    assert refused.returncode == 1 and "may not hold a token" in refused.stderr
    made = run(tmp_path, "create", "ana@example.com", "--name", "cron", CAL_USER_EMAIL="ana@example.com")
    assert made.returncode == 0, made.stderr
    secret, note = made.stdout.strip().splitlines()
    assert secret.startswith("calbot_") and "shown only now" in note
    token_id = note.split()[1]
    listed = run(tmp_path, "list")
    assert f"{token_id}\tana@example.com\tcron\t" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout
    assert run(tmp_path, "revoke", token_id).stdout.strip() == f"revoked {token_id} (ana@example.com)"
    assert "revoked " in run(tmp_path, "list").stdout.splitlines()[1]
    again = run(tmp_path, "revoke", token_id)
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert run(tmp_path).returncode == 2  # no action: usage


def test_the_bare_command_lists_tokens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    bare = subprocess.run([sys.executable, "-m", "calbot"], check=False, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert "tokens {create,list,revoke}" in bare.stderr


async def test_migration_0004_keeps_what_0003_held(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    engine = sa.create_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.execute(sa.text("INSERT INTO accounts (email, password_hash, created_at, disabled) "
                             "VALUES ('bo@example.com', :h, '2026-12-01 09:00:00', 0)"), {"h": FAST.hash("x" * 9)})
    engine.dispose()
    store = TokenStore(await SqlStore.open(url))
    try:
        assert (await store.accounts.get("bo@example.com")) is not None
        _, secret = await store.create("bo@example.com")
        assert await store.verify(secret) is not None
    finally:
        await store.close()
