"""The Cal.com OpenAPI document the tests validate against is vendored in the repository (issue 16), with a note of
its source, date and checksums, so a clone with no shared/ folder beside it runs every test."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.openapi_spec import load_openapi, spec_path

REPO = Path(__file__).resolve().parents[2]
VENDORED = REPO / "tests" / "spec" / "calcom"


def test_the_spec_is_read_from_the_repository_whatever_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CALBOT_SHARED_DIR", str(tmp_path / "nowhere"))
    path = spec_path()
    assert path == VENDORED / "openapi-v2-subset.json"
    assert path.is_file()
    monkeypatch.delenv("CALBOT_SHARED_DIR")
    assert spec_path() == path
    assert load_openapi().spec["paths"]["/v2/bookings"]


def test_the_source_note_names_every_vendored_file_with_its_checksum() -> None:
    note = (VENDORED / "SOURCE.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", note, flags=re.MULTILINE))
    files = {p.name for p in VENDORED.iterdir() if p.name != "SOURCE.md"}
    assert set(listed) == files == {"openapi-v2-subset.json", "API-NOTES.md"}
    for name, digest in listed.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, f"{name} changed: update SOURCE.md"
    assert "a85da636e4f6a3fd91c8a437d03a24ee0bc63780" in note  # the upstream commit it was cut from
