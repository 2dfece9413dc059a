"""docs/reliability.md lists every case of this suite exactly once, in its category's table (this check is not a
case itself): a case added, renamed or removed without the table fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

FAULTS = Path(__file__).resolve().parent
DOC = FAULTS.parents[1] / "docs" / "reliability.md"
CATEGORIES = {  # module -> the doc's section heading
    "test_upstream_calcom.py": "Upstream Cal.com",
    "test_model_endpoint.py": "Model endpoint",
    "test_bad_input.py": "Bad input",
    "test_isolation_secrets.py": "Isolation and secrets",
    "test_concurrency.py": "Concurrency",
}
MIN_PER_CATEGORY = 8
MIN_TOTAL = 40


def cases(module: str) -> dict[str, str | None]:
    """Test function name -> docstring, in file order."""
    tree = ast.parse((FAULTS / module).read_text(encoding="utf-8"))
    return {node.name: ast.get_docstring(node) for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}


def sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+?)(?: \(\d+ cases\))?$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def table_cases(body: str) -> list[str]:
    return re.findall(r"^\| `(test_\w+)` \|", body, flags=re.M)


def test_every_module_of_the_suite_has_a_category():
    modules = {p.name for p in FAULTS.glob("test_*.py")} - {Path(__file__).name}
    assert modules == set(CATEGORIES)


def test_each_category_table_lists_its_cases_exactly_once_in_file_order():
    found = sections()
    for module, category in CATEGORIES.items():
        assert category in found, f"docs/reliability.md has no '## {category}' section"
        assert table_cases(found[category]) == list(cases(module)), category


def test_no_case_is_listed_twice_or_left_stale():
    listed = table_cases(DOC.read_text(encoding="utf-8"))
    every = [name for module in CATEGORIES for name in cases(module)]
    assert sorted(listed) == sorted(every) and len(set(listed)) == len(listed)


def test_every_case_has_a_one_line_docstring():
    for module in CATEGORIES:
        for name, doc in cases(module).items():
            assert doc and "\n" not in doc.strip(), f"{module}::{name} needs a one-line docstring"


def test_the_counts_are_enough_and_stated_at_the_end():
    counts = {category: len(cases(module)) for module, category in CATEGORIES.items()}
    assert min(counts.values()) >= MIN_PER_CATEGORY and sum(counts.values()) >= MIN_TOTAL, counts
    found = sections()
    for category, count in counts.items():
        assert re.search(rf"^## {re.escape(category)} \({count} cases\)$", DOC.read_text(encoding="utf-8"), re.M)
        assert re.search(rf"^\| {re.escape(category)} \| {count} \|$", found["Counts"], re.M), category
    assert re.search(rf"^\| \*\*total\*\* \| \*\*{sum(counts.values())}\*\* \|$", found["Counts"], re.M)
