"""Turn the course notebooks into nbgrader assignments and student releases (`make assignments`).

The numbered notebooks in `notebooks/` are the nbgrader *source* (solutions between
`### BEGIN SOLUTION` / `### END SOLUTION`, hidden tests between `### BEGIN HIDDEN TESTS` /
`### END HIDDEN TESTS`). nbgrader wants them at `<root>/source/<assignment>/<notebook>.ipynb`, so
this script copies each notebook to `source/<id>/<id>.ipynb` (one assignment per notebook, named
after it: `notebooks/01_groups.ipynb` -> assignment `01_groups`) and runs
`nbgrader generate_assignment <id> --force`, which writes the student version to
`release/<id>/<id>.ipynb`. Edit `notebooks/`, never `source/`: `source/` is rewritten every run.

    python scripts/assignments.py                 # every notebook, gradebook.db in the repository
    python scripts/assignments.py 01_groups       # one assignment
    python scripts/assignments.py --no-db         # release only, no gradebook (nothing to grade later)
    python scripts/assignments.py --root /tmp/course   # build the course somewhere else

The functions are also used by tests/test_assignments.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
CONFIG = REPO / "nbgrader_config.py"
COURSE_ID = "eqcourse"
# Course notebooks are `NN_name.ipynb`; the assignment id is the file name without `.ipynb`.
ASSIGNMENT_ID = re.compile(r"^[0-9]{2}_[A-Za-z0-9_]+$")
# nbgrader's default solution delimiters: a line *containing* one is a marker (tests check they agree)
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")


def course_notebooks(notebooks_dir: str | Path = NOTEBOOKS) -> dict[str, Path]:
    """Assignment id -> source notebook, one assignment per numbered notebook, in course order."""
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"notebooks_dir={str(notebooks_dir)!r} is not a folder; pass the course's notebooks/")
    return {p.stem: p for p in sorted(notebooks_dir.glob("*.ipynb")) if ASSIGNMENT_ID.match(p.stem)}


def select(ids: list[str] | None, notebooks: dict[str, Path]) -> dict[str, Path]:
    """The notebooks for the requested assignment ids (all when `ids` is empty or None)."""
    if not ids:
        return dict(notebooks)
    unknown = [i for i in ids if i not in notebooks]
    if unknown:
        raise ValueError(f"unknown assignment id(s) {unknown}; expected some of {sorted(notebooks)} "
                         "(the names of the numbered notebooks, without .ipynb)")
    return {i: notebooks[i] for i in ids}


def sync_source(root: str | Path, notebooks: dict[str, Path]) -> list[Path]:
    """Copy each notebook to `<root>/source/<id>/<id>.ipynb` (and nbgrader_config.py to `<root>`)."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if root != REPO:
        shutil.copy2(CONFIG, root / "nbgrader_config.py")
    copies = []
    for assignment_id, notebook in notebooks.items():
        folder = root / "source" / assignment_id
        if folder.exists():
            shutil.rmtree(folder)  # generated: a stale file here would be released to students
        folder.mkdir(parents=True)
        target = folder / f"{assignment_id}.ipynb"
        shutil.copy2(notebook, target)
        copies.append(target)
    return copies


def nbgrader(args: list[str], root: str | Path, db_url: str | None = None,
             env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader <args>` in the course folder `root` (whose nbgrader_config.py applies)."""
    root = Path(root).resolve()
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    if db_url:
        cmd.append(f"--CourseDirectory.db_url={db_url}")
    # nbgrader runs `alembic` (its database migrations) as a command: the venv's bin/ must be on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    proc = subprocess.run(cmd, cwd=root, env={**os.environ, "PATH": path, **(env or {})},
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        # nbgrader logs the offending cell ("... Cell contents are:") before a long traceback
        first = next((i for i, line in enumerate(lines) if "Cell contents are" in line), None)
        cell = lines[first : first + 15] + ["    ..."] if first is not None else []
        tail = "\n".join(cell + lines[-25:])
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed (exit {proc.returncode}) in {root}:\n{tail}")
    return proc


def generate(root: str | Path, assignment_ids: list[str], db: bool = True, db_url: str | None = None) -> list[Path]:
    """`nbgrader generate_assignment <id> --force` for each id; returns the student notebooks."""
    root = Path(root).resolve()
    released, failures = [], []
    for assignment_id in assignment_ids:
        try:
            nbgrader(["generate_assignment", assignment_id, "--force", *([] if db else ["--no-db"])], root, db_url)
        except RuntimeError as err:
            failures.append(str(err))  # go on: the other assignments can still be released
            continue
        target = root / "release" / assignment_id / f"{assignment_id}.ipynb"
        if not target.exists():
            failures.append(f"nbgrader ran but wrote no {target}")
            continue
        released.append(target)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(assignment_ids)} assignment(s) failed "
                           f"({len(released)} released):\n\n" + "\n\n".join(failures))
    return released


def replace_solutions(source: str, stand_in: str) -> str:
    """``source`` with each solution region, markers included, replaced by ``stand_in``.

    Every line of the stand-in is indented like the region's first marker, as nbgrader's
    ``ClearSolutions`` does with its stub (tested against it); like nbgrader, a line is a marker
    when it contains the marker text.
    """
    out, skipping = [], False
    for line in source.splitlines():
        if SOLUTION[0] in line:
            skipping = True
            pad = line[: len(line) - len(line.lstrip())]
            out += [pad + part for part in stand_in.split("\n")]
        elif SOLUTION[1] in line:
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out)


def wrong_answer(source: str) -> str:
    """A solution cell with its body replaced by `return None` (a plausible, wrong first attempt).

    The tests' stand-in for a student who got one exercise wrong (tests/test_assignments.py and the
    classroom test).
    """
    return replace_solutions(source, "return None  # deliberately wrong")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ids", nargs="*", help="assignment ids (default: every numbered notebook)")
    parser.add_argument("--root", default=str(REPO), help="course folder (default: the repository)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS), help="folder with the source notebooks")
    parser.add_argument("--no-db", action="store_true", help="do not record the assignments in gradebook.db")
    args = parser.parse_args(argv)
    try:
        chosen = select(args.ids, course_notebooks(args.notebooks))
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    if not chosen:
        print(f"no numbered notebooks (NN_name.ipynb) in {args.notebooks}: nothing to release")
        return 0
    sync_source(args.root, chosen)
    try:
        released = generate(args.root, list(chosen), db=not args.no_db)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    root = Path(args.root).resolve()
    for path in released:
        print(f"released {path.relative_to(root)}")
    print(f"{len(released)} student notebook(s) in {root / 'release'}; hand out release/<id>/ "
          "(students need the eqcourse wheel, not the repository: see docs/teaching.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
