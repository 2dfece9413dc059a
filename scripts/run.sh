#!/usr/bin/env bash
# Installs calbot's dependencies into .venv (created if missing) and serves the chat on http://127.0.0.1:8000.
# Usage: bash scripts/run.sh [extra chainlit run args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
# CI=true would make chainlit replace OPENAI_API_KEY with a fake one; never let it leak in.
exec env -u CI .venv/bin/chainlit run app.py -h "$@"
