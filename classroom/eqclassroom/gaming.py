"""Tests that cannot be talked out of failing: a scan of the student's code, outside the student's kernel.

A cell that replaces what the tests rely on (`torch.allclose = lambda *a, **k: True`, an IPython
input transformer that turns each later cell into `pass`, a patched eqcourse.grading) makes every
later test pass. Checks inside the kernel could be patched too, so `FlagGaming` runs in the grader
(after the sandboxed execution, before the scores are final): it parses each code cell the student
could write (every code cell except the instructor's test cells) and flags

- assignments, deletions and `setattr`/`delattr` on torch, numpy, builtins, sys, IPython, eqcourse
  (and what was imported from them), and rebinding those modules' names or the builtins tests use;
- writes to `sys.modules`, `__builtins__`, `globals()`, `vars()`, `locals()`;
- `get_ipython()` beyond a few display magics (input transformers, hooks, events, `run_cell`);
- the usual ways to hide the above: exec, eval, compile, `__import__`, importlib, ctypes, gc, and
  getattr/setattr with a computed name.

A flagged notebook loses the credit of every test cell after the first flagged cell (manual score
0) and those grades are marked "needs manual grade" with an explanation in the first solution
cell's comment: the formgrader lists the submission as needing manual grading, and the instructor
reads the comment, checks the cell, and gives the points back if it was innocent. What it does not
catch is in docs/teaching.md ("Threat model").
"""

from __future__ import annotations

import ast

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

WATCHED_MODULES = {"torch", "numpy", "builtins", "sys", "IPython", "eqcourse", "math", "operator", "unittest",
                   "pytest", "nbgrader", "ipykernel", "traitlets"}
FORBIDDEN_MODULES = {"ctypes", "importlib", "gc", "builtins", "IPython", "unittest", "ipykernel", "code", "cffi",
                     "forbiddenfruit"}
FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__", "setattr", "delattr", "globals", "vars", "locals",
                   "breakpoint"}
# builtins a test cell relies on; rebinding one of them at the top of a cell is flagged
TEST_BUILTINS = {"isinstance", "len", "abs", "all", "any", "float", "bool", "round", "hasattr", "callable", "type",
                 "AssertionError", "print", "repr", "str", "id", "issubclass"}
SAFE_MAGICS = {"matplotlib", "time", "timeit", "config", "precision"}
SAFE_IMPORTS = {"importlib.resources", "IPython.display", "IPython.core.display"}  # read or display only


def flags(source: str) -> list[str]:
    """What in the cell `source` patches what the tests rely on (empty when nothing does)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        code = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 (whatever IPython cannot read, Python will not run either)
        code = source
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    watched = set(WATCHED_MODULES)
    found: list[str] = []
    safe_shells: set[int] = set()  # get_ipython() calls that only run a display magic
    for node in ast.walk(tree):  # aliases first: `import torch as T` makes T watched
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in WATCHED_MODULES:
                    watched.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in WATCHED_MODULES:
            watched.update(alias.asname or alias.name for alias in node.names)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES and name not in SAFE_IMPORTS:
                    found.append(f"line {line}: imports {name}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for leaf in _leaves(target):
                    what = _patched(leaf, watched, top_level=node in tree.body)
                    if what:
                        found.append(f"line {line}: {'deletes' if isinstance(node, ast.Delete) else 'replaces'} "
                                     f"{what}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in FORBIDDEN_CALLS or (name.split(".")[0] in FORBIDDEN_MODULES and
                                           not any(name.startswith(safe + ".") for safe in SAFE_IMPORTS)):
                found.append(f"line {line}: calls {name}()")
            elif name.startswith("get_ipython()."):
                magic = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                if name.endswith(".run_line_magic") and magic in SAFE_MAGICS:
                    safe_shells.add(id(node.func.value))
                else:
                    found.append(f"line {line}: uses IPython's {name.split('.', 1)[-1]}")
            elif name == "get_ipython" and id(node) not in safe_shells:
                found.append(f"line {line}: takes IPython's shell (get_ipython())")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr in {
                "__builtins__", "__globals__", "__code__", "__dict__", "__class__", "__subclasses__", "__mro__"}:
            found.append(f"line {line}: uses {node.attr}")
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "get_ipython"} and not isinstance(
                getattr(node, "ctx", None), ast.Store) and not _called(node, tree):
            found.append(f"line {line}: uses {node.id}")
    return sorted(set(found), key=lambda s: int(s.split()[1].rstrip(":")))


def _called(name: ast.Name, tree: ast.AST) -> bool:
    """True when `name` is the function of a call (get_ipython() is reported by the call branch)."""
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def _leaves(target: ast.AST) -> list[ast.AST]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [leaf for element in target.elts for leaf in _leaves(element)]
    if isinstance(target, ast.Starred):
        return _leaves(target.value)
    return [target]


def _patched(target: ast.AST, watched: set[str], top_level: bool) -> str | None:
    """The name of what assigning to `target` patches, or None when it patches nothing watched."""
    if isinstance(target, ast.Name):
        if target.id in watched or (top_level and target.id in TEST_BUILTINS):
            return target.id
        return None
    if isinstance(target, ast.Attribute):
        root = _dotted(target)
        return root if root.split(".")[0] in watched or root.split(".")[0] == "__builtins__" else None
    if isinstance(target, ast.Subscript):
        base = _dotted(target.value)
        if base in {"sys.modules", "__builtins__", "globals()", "vars()", "locals()"} or \
                base.split(".")[0] in watched:
            return f"{base}[...]"
    return None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()" if isinstance(node.func, ast.Name) else _dotted(node.func)
    return "<expression>"


def notebook_flags(nb) -> list[tuple[int, str]]:
    """(cell index, finding) for every code cell a student could write (all but the test cells)."""
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not (utils.is_grade(cell) and not utils.is_solution(cell)):
            out += [(index, finding) for finding in flags(cell.source)]
    return out


class FlagGaming(NbGraderPreprocessor):
    """Zero and flag for manual grading every test after a cell that patches what the tests rely on.

    Runs after SaveAutoGrades (the scores it overrides are in the gradebook by then).
    """

    def preprocess(self, nb, resources):
        found = notebook_flags(nb)
        if not found:
            return nb, resources
        info = resources["nbgrader"]
        first = found[0][0]
        tests = [c.metadata.nbgrader["grade_id"] for i, c in enumerate(nb.cells)
                 if i > first and c.cell_type == "code" and utils.is_grade(c) and not utils.is_solution(c)]
        solutions = [c.metadata.nbgrader["grade_id"] for c in nb.cells if utils.is_solution(c)]
        note = ("FLAGGED FOR REVIEW (eqclassroom.gaming): this notebook changes what the tests rely on; "
                f"the {len(tests)} test(s) after cell {first} got 0 until an instructor checks it:\n"
                + "\n".join(f"cell {i}: {what}" for i, what in found[:20]))
        self.log.warning("%s %s: %s", info["student"], info["notebook"], note)
        with Gradebook(info["db_url"], info.get("course_id", "")) as gb:
            for grade_id in tests:
                grade = gb.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
                grade.manual_score = 0
                grade.needs_manual_grade = True
            if solutions:
                try:
                    comment = gb.find_comment(solutions[0], info["notebook"], info["assignment"], info["student"])
                    comment.auto_comment = note
                except MissingEntry:
                    pass
            gb.db.commit()
        resources.setdefault("eqclassroom", {})["gaming"] = found
        return nb, resources
