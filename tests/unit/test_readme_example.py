"""README's "Driving the core from a Python shell" block runs as written, on any day (issue 16): it is taken from
README.md and run with the project's Python in a temporary directory (so .calbot/sandbox.db lands there), with no
CAL_*/CALBOT_*/OPENAI_* variable and no .env, so on the sandbox calendar and with no network."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Driving the core from a Python shell"
CONFIRM_LINE = '    # print(await calendar.executor.confirm(state, proposal["proposal_id"]))\n'


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no {HEADING!r} section"
    section = text[text.index(HEADING):]
    found = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert found, "the section has no ```python block"
    return found.group(1)


def run(code: str, home: Path) -> list[dict]:
    env = {name: value for name, value in os.environ.items()
           if not name.upper().startswith(("CAL_", "CALBOT_", "OPENAI_", "CHAINLIT_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", code], cwd=home, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"the README example failed:\n{done.stderr[-3000:]}"
    return [ast.literal_eval(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_example_names_no_fixed_date() -> None:
    assert not re.search(r"\d{4}-\d{2}-\d{2}", readme_block()), "a fixed date goes stale: compute it"


def test_the_example_runs_as_written_and_proposes_a_booking(tmp_path: Path) -> None:
    availability, proposal = run(readme_block(), tmp_path)
    assert availability["ok"] is True, availability
    assert availability["days"][0]["free_local"], availability  # a working day with free time
    assert proposal["ok"] is True and proposal["status"] == "awaiting_confirmation", proposal
    assert proposal["start_local"] == f"{availability['days'][0]['date']}T15:00"
    assert (tmp_path / ".calbot" / "sandbox.db").is_file()  # the sandbox file, in the working directory


def test_its_confirm_line_books_the_meeting(tmp_path: Path) -> None:
    code = readme_block()
    assert code.count(CONFIRM_LINE) == 1, "the README example lost its commented Confirm line"
    *_, outcome = run(code.replace(CONFIRM_LINE, CONFIRM_LINE.replace("# ", "", 1)), tmp_path)
    assert outcome["ok"] is True and outcome["status"] == "booked", outcome
