"""The course as a whole: numbering, length, one home for shared material, tests that report.

These read the notebooks' sources only (no kernel), so they are quick and run with the unit tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_PROSE_WORDS = 3000  # issue 20: no notebook above about 3,000 words of prose
SOURCE_TITLE = "The 1 Principle to Build Regular Equivariant CNNs"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def prose_words(path: Path) -> int:
    return sum(len(re.findall(r"\S+", text(c))) for c in cells(path) if c["cell_type"] == "markdown")


def test_notebooks_are_numbered_01_onward_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1)), [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_stays_under_the_length_limit(path):
    words = prose_words(path)
    print(f"{path.stem}: {words:,} words of prose (limit {MAX_PROSE_WORDS:,})")
    assert words <= MAX_PROSE_WORDS, f"{path.name} has {words:,} words of prose; split it or tighten it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_references_to_other_notebooks_name_notebooks_that_exist(path):
    """'notebook 05', 'notebooks 03-04', 'notebook 5': every number is a notebook of the course."""
    existing = {int(p.name[:2]) for p in NOTEBOOKS}
    bad = []
    for c in cells(path):
        for m in re.finditer(r"[Nn]otebooks? ((?:0?\d)(?:\s*(?:[-–,]|and|or)\s*0?\d)*)\b", text(c)):
            numbers = {int(n) for n in re.findall(r"\d+", m.group(1))}
            if not numbers <= existing:
                bad.append(m.group(0))
    assert not bad, f"{path.name} refers to notebooks that do not exist: {bad}"


def test_further_reading_lives_in_one_place_the_last_notebook():
    homes = [p.name for p in NOTEBOOKS
             if any(re.search(r"^#+\s*(Further reading|Where next)", text(c), re.M | re.I)
                    for c in cells(p) if c["cell_type"] == "markdown")]
    assert homes == [NOTEBOOKS[-1].name], f"the further-reading list is in {homes}; it belongs once, at the end"


def test_the_first_notebook_names_the_source_article():
    first = "\n".join(text(c) for c in cells(NOTEBOOKS[0]) if c["cell_type"] == "markdown")
    assert SOURCE_TITLE in first and "freiberg-roman" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_visible_test_cell_reports_what_it_checked(path):
    """A passing test cell prints a line that says what it checked (outside the hidden tests)."""
    silent = []
    for c in cells(path):
        meta = c.get("metadata", {}).get("nbgrader", {})
        if c["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            visible = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", text(c), flags=re.S)
            if "print(" not in visible and "display(" not in visible:
                silent.append(meta.get("grade_id"))
    assert not silent, f"{path.name}: test cells that print nothing when they pass: {silent}"
