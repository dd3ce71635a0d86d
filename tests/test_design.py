"""docs/design.md is the package's contract; these tests hold the code to it."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"


def _allowed() -> dict[str, set[str]]:
    """The table "Modules and what each may import": module -> the eqcourse modules it may import."""
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", DESIGN.read_text(), flags=re.MULTILINE)
    return {name: set(re.findall(r"`(\w+)`", deps)) for name, deps in rows}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eqcourse"):
            if node.module == "eqcourse":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("eqcourse.")}
    return found


def test_the_design_lists_the_core_modules():
    assert {"checks", "groups", "nn", "models", "state", "data", "pretrained", "train", "cost"} <= set(_allowed())


@pytest.mark.parametrize("module", sorted(_allowed()))
def test_each_module_imports_only_what_the_design_allows(module):
    path = ROOT / "eqcourse" / f"{module}.py"
    assert path.is_file(), f"docs/design.md lists {module}, which does not exist"
    extra = _imports(path) - _allowed()[module] - {module}
    assert not extra, (
        f"eqcourse/{module}.py imports {sorted(extra)}; docs/design.md allows {sorted(_allowed()[module])}"
    )


def test_only_the_groups_call_rot90():
    """One name for the rotation action: group.act_on_image / group.transform."""
    callers = [p.name for p in (ROOT / "eqcourse").glob("*.py") if "rot90(" in p.read_text() and p.name != "groups.py"]
    assert callers == []


def test_no_docstring_cites_a_missing_design_file():
    for path in (ROOT / "eqcourse").glob("*.py"):
        assert "DESIGN.md" not in path.read_text(), path.name


def test_every_module_of_the_package_is_in_the_design():
    """Read from the directory, so a module added (or removed) without its row fails here."""
    files = {p.stem for p in (ROOT / "eqcourse").glob("*.py")}
    missing = files - set(_allowed())
    assert not missing, f"docs/design.md's module table has no row for {sorted(missing)}"
