"""The course notebooks as nbgrader assignments: format, no solution leaks, end-to-end autograding.

One session fixture builds a separate nbgrader course per notebook in a temporary folder (with the
same nbgrader_config.py and scripts/assignments.py that `make assignments` uses), then per notebook:
`generate_assignment`, the submissions below, one `nbgrader autograde` over all of them, and
`nbgrader validate` on the source, two notebooks at a time (under EQCOURSE_FAST=1).

Submissions: `correct` (the release with every solution cell taken from the source), `zero` (the
untouched release; autograded, it is the student release executed top to bottom, so it also shows
which student cells run and which raise NotImplementedError), and the catalogue of wrong answers
in `tests/wrong_answers/nbNN.py` (`WRONG`: exercise number -> [(label, solution cell source)]),
batched (see `wrong_submissions`): the first wrong answers in two submissions by parity of the
exercise's position, next to correct answers (checks "zero on the wrong ones" and "full marks on
the others"), then one submission per further round with a wrong answer in every exercise. A
notebook with at most R wrong answers per exercise costs R + 3 kernel runs. A notebook without a
catalogue gets one `wrong` submission (the first exercise's body replaced by `return None`).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("assignments", REPO / "scripts" / "assignments.py")
assignments = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(assignments)

NOTEBOOKS = assignments.course_notebooks()
# EQCOURSE_ASSIGNMENTS=01,05 restricts the run to the notebooks whose names start with those prefixes
# (a quicker loop while writing exercises; `make test` runs them all).
if os.environ.get("EQCOURSE_ASSIGNMENTS"):
    _prefixes = tuple(p.strip() for p in os.environ["EQCOURSE_ASSIGNMENTS"].split(",") if p.strip())
    NOTEBOOKS = {aid: path for aid, path in NOTEBOOKS.items() if aid.startswith(_prefixes)}
IDS = list(NOTEBOOKS)
# Two kernels run at once on two cores: one thread each, or OpenMP's threads wait on each other.
ENV = {"EQCOURSE_FAST": "1", "EQCOURSE_PROGRESS": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
STUDENTS = ("correct", "zero")  # always; plus the wrong-answer submissions of each notebook
WRONG_DIR = REPO / "tests" / "wrong_answers"
WORKERS = 2  # the test machine has 2 cores; nbgrader runs one kernel at a time per call

# nbgrader's delimiters: a line containing this text, in *any* cell, is a marker (our notebooks write
# them as `### BEGIN SOLUTION` etc.). Read from nbgrader itself so the test follows its behaviour.
SOLUTION = (ClearSolutions.begin_solution_delimeter.default_value, ClearSolutions.end_solution_delimeter.default_value)
HIDDEN = (ClearHiddenTests.begin_test_delimeter.default_value, ClearHiddenTests.end_test_delimeter.default_value)
SOLUTION_ID = re.compile(r"^nb(\d\d)_ex(\d+)_solution$")
TESTS_ID = re.compile(r"^nb(\d\d)_ex(\d+)_tests$")
WRITTEN_ID = re.compile(r"^nb(\d\d)_w(\d+)$")  # manually graded written answers


# ---------------------------------------------------------------- reading the source format

def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def marked_regions(source: str, markers: tuple[str, str]) -> tuple[list[str], list[str]]:
    """(lines strictly between the markers, lines outside them); raises on unbalanced markers.

    Like nbgrader, a line is a marker when it *contains* the marker text, in any cell.
    """
    inside, outside, depth = [], [], 0
    for line in source.splitlines():
        if markers[0] in line:
            if depth:
                raise ValueError(f"nested {markers[0]!r}")
            depth = 1
        elif markers[1] in line:
            if not depth:
                raise ValueError(f"{markers[1]!r} without {markers[0]!r}")
            depth = 0
        else:
            (inside if depth else outside).append(line)
    if depth:
        raise ValueError(f"{markers[0]!r} without {markers[1]!r}")
    return inside, outside


@dataclass
class Exercise:
    number: int
    solution: int  # cell indices in the source notebook
    tests: int
    points: float


def exercises(nb) -> dict[int, Exercise]:
    """Exercise number -> its solution and test cells, from the grade_ids."""
    solutions, tests = {}, {}
    for i, cell in enumerate(nb.cells):
        gid = nbg(cell).get("grade_id", "")
        if m := SOLUTION_ID.match(gid):
            solutions[int(m.group(2))] = i
        elif m := TESTS_ID.match(gid):
            tests[int(m.group(2))] = i
    return {k: Exercise(k, solutions[k], tests[k], float(nbg(nb.cells[tests[k]]).get("points", 0)))
            for k in sorted(solutions.keys() & tests.keys())}


def stub_source(source: str) -> str:
    """The source with each solution region replaced as nbgrader does (by a raising stub)."""
    return assignments.replace_solutions(source, "raise NotImplementedError()")


def names_defined(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def python_source(source: str) -> str:
    """Cell source with IPython magics and shell escapes blanked, so `ast` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def format_problems(nb, number: str) -> list[str]:
    """Everything in a source notebook that breaks the agreed exercise format."""
    problems = []
    prefix = f"nb{number}_"
    cells = nb.cells
    where = lambda i: f"cell {i} ({nbg(cells[i]).get('grade_id') or cells[i].cell_type})"  # noqa: E731
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"kernelspec is {nb.metadata.get('kernelspec')}, expected name 'python3'")
    ids = [nbg(c)["grade_id"] for c in cells if "grade_id" in nbg(c)]
    duplicates = sorted({g for g in ids if ids.count(g) > 1})
    if duplicates:
        problems.append(f"duplicate grade_ids {duplicates}")
    for i, cell in enumerate(cells):
        meta = nbg(cell)
        if meta and not meta.get("grade_id", "").startswith(prefix):
            problems.append(f"{where(i)}: grade_id {meta.get('grade_id')!r} does not start with {prefix!r}")
        if meta and meta.get("schema_version") != 3:
            problems.append(f"{where(i)}: nbgrader schema_version {meta.get('schema_version')}, expected 3")
        for markers, allowed in ((SOLUTION, meta.get("solution")), (HIDDEN, meta.get("grade"))):
            marked = [line for line in cell.source.splitlines() if markers[0] in line or markers[1] in line]
            if marked:
                if not allowed:
                    problems.append(f"{where(i)}: contains the marker text {marked[0].strip()!r}, but is not a "
                                    f"{'solution' if markers is SOLUTION else 'graded test'} cell; nbgrader "
                                    "treats every line containing the marker text as a marker, in any cell "
                                    "(generate_assignment fails or cuts the cell): reword it")
                try:
                    marked_regions(cell.source, markers)
                except ValueError as err:
                    problems.append(f"{where(i)}: {err}")
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    setup = nbg(cells[code[0]]) if code else {}
    if setup.get("grade_id") != f"{prefix}setup" or not setup.get("locked") or setup.get("grade") \
            or setup.get("solution"):
        problems.append(f"first code cell should be the locked, ungraded {prefix}setup cell, has {setup}")

    found = exercises(nb)
    solution_ks = {int(m.group(2)) for g in ids if (m := SOLUTION_ID.match(g))}
    tests_ks = {int(m.group(2)) for g in ids if (m := TESTS_ID.match(g))}
    for k in sorted(solution_ks ^ tests_ks):
        problems.append(f"exercise {k}: has a {'solution' if k in solution_ks else 'test'} cell but no "
                        f"{'test' if k in solution_ks else 'solution'} cell (grade_ids {prefix}ex{k}_solution/_tests)")
    if len(found) < 3:
        problems.append(f"{len(found)} graded exercises, at least 3 expected")
    written = [i for i, c in enumerate(cells) if WRITTEN_ID.match(nbg(c).get("grade_id", ""))]
    if not written:
        problems.append(f"no written answer (a markdown cell with grade_id {prefix}w1)")
    for i in written:
        meta = nbg(cells[i])
        if cells[i].cell_type != "markdown" or not meta.get("solution") or not meta.get("grade") \
                or meta.get("locked") or not meta.get("points", 0) > 0:
            problems.append(f"{where(i)}: a written answer is an unlocked markdown cell with solution=true, "
                            f"grade=true and points > 0; has {meta}")
        if SOLUTION[0] not in cells[i].source:
            problems.append(f"{where(i)}: no model answer between the solution markers")
    heading = next((i for i, c in enumerate(cells)
                    if c.cell_type == "markdown" and re.search(r"^##\s+Exercises\s*$", c.source, re.M)), None)
    if heading is None:
        problems.append("no '## Exercises' markdown heading")
    exercise_names: set[str] = set()
    for k, ex in found.items():
        sol, test = cells[ex.solution], cells[ex.tests]
        ms, mt = nbg(sol), nbg(test)
        if ex.solution > ex.tests:
            problems.append(f"exercise {k}: the solution cell comes after its test cell")
        if heading is not None and ex.solution < heading:
            problems.append(f"exercise {k}: before the '## Exercises' heading")
        if sol.cell_type != "code" or not ms.get("solution") or ms.get("grade") or ms.get("locked"):
            problems.append(f"{where(ex.solution)}: expected an unlocked, ungraded code cell with solution=true, "
                            f"has {ms}")
        if SOLUTION[0] not in sol.source:
            problems.append(f"{where(ex.solution)}: no {SOLUTION[0]!r} marker")
        if test.cell_type != "code" or not mt.get("grade") or not mt.get("locked") or mt.get("solution"):
            problems.append(f"{where(ex.tests)}: expected a locked graded code cell, has {mt}")
        if not ex.points > 0:
            problems.append(f"{where(ex.tests)}: points={mt.get('points')!r}, expected > 0")
        try:
            _, visible = marked_regions(test.source, HIDDEN)
            if not any(line.lstrip().startswith("assert") for line in visible):
                problems.append(f"{where(ex.tests)}: no visible assert for the student to check against")
        except ValueError:
            pass  # reported above
        try:
            tree = ast.parse(python_source(stub_source(sol.source)))
        except SyntaxError as err:
            problems.append(f"{where(ex.solution)}: the student version (stubbed) does not parse: {err}")
            continue
        exercise_names |= names_defined(tree)
        for node in tree.body:
            harmless = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                         ast.ImportFrom)) \
                or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) \
                or (isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
                    and not any(isinstance(n, ast.Call) for n in ast.walk(node.value)))
            if not harmless:
                problems.append(f"{where(ex.solution)}: top-level statement on line {node.lineno} "
                                f"({type(node).__name__}); solution cells should only define functions")
    in_exercise = {i for ex in found.values() for i in (ex.solution, ex.tests)}
    for i in code:
        if i in in_exercise:
            continue
        try:
            tree = ast.parse(python_source(cells[i].source))
        except SyntaxError as err:
            problems.append(f"{where(i)}: does not parse: {err}")
            continue
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        leaked = sorted((used & exercise_names) - names_defined(tree))
        if leaked:
            problems.append(f"{where(i)}: outside the exercises but uses {leaked}, defined by an exercise")
    return problems


# ---------------------------------------------------------------- building and grading

def catalogue(aid: str) -> dict[int, list[tuple[str, str]]] | None:
    """The catalogued wrong answers of notebook `aid` (tests/wrong_answers/nbNN.py), or None."""
    path = WRONG_DIR / f"nb{aid[:2]}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"wrong_answers_nb{aid[:2]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


def wrong_submissions(wrong: dict[int, list[tuple[str, str]]],
                      numbers: list[int]) -> dict[str, dict[int, tuple[str, str]]]:
    """Student id -> {exercise: (label, source)}.

    Round 0 is split by parity: `wrong0p0` puts wrong answer 0 into the exercises at even positions
    and `wrong0p1` into those at odd positions, the source's answers elsewhere, so each exercise's
    first wrong answer is graded next to correct neighbours (a wrong answer must not cost another
    exercise points). Every later round r is one submission `wrong<r>` with wrong answer r in every
    exercise that has one (and the source's answer in the others): one kernel run per round.
    """
    rounds = max((len(v) for v in wrong.values()), default=0)
    result = {}
    for q in (0, 1):
        chosen = {k: wrong[k][0] for i, k in enumerate(numbers) if i % 2 == q and wrong.get(k)}
        if chosen:
            result[f"wrong0p{q}"] = chosen
    for r in range(1, rounds):
        chosen = {k: wrong[k][r] for k in numbers if r < len(wrong.get(k, []))}
        if chosen:
            result[f"wrong{r}"] = chosen
    return result


@dataclass
class Graded:
    """One notebook's nbgrader course, after generate/autograde/validate."""
    assignment_id: str
    root: Path
    source: Path
    wrong_exercise: int = 0
    wrong: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)  # student -> exercise -> answer
    scores: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # student -> id -> (s, max)
    validate_output: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @property
    def release(self) -> Path:
        return self.root / "release" / self.assignment_id / f"{self.assignment_id}.ipynb"

    def autograded(self, student: str) -> Path:
        return self.root / "autograded" / student / self.assignment_id / f"{self.assignment_id}.ipynb"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


def make_submissions(g: Graded) -> None:
    """submitted/{correct,zero,wrong}/<id>/<id>.ipynb from the release and the source."""
    source = nbformat.read(g.source, as_version=4)
    release = nbformat.read(g.release, as_version=4)
    solutions = {nbg(c)["grade_id"]: c.source for c in source.cells if nbg(c).get("solution")}
    found = exercises(source)
    wrong = catalogue(g.assignment_id)
    if wrong is None:
        g.wrong_exercise = min(found)
        first = solutions[nbg(source.cells[found[g.wrong_exercise].solution])["grade_id"]]
        g.wrong = {"wrong": {g.wrong_exercise: ("return None", assignments.wrong_answer(first))}}
    else:
        g.wrong = wrong_submissions(wrong, sorted(found))
    for student in [*STUDENTS, *g.wrong]:
        replaced = {f"nb{g.assignment_id[:2]}_ex{k}_solution": src for k, (_, src) in g.wrong.get(student, {}).items()}
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        if student != "zero":
            for cell in nb.cells:
                gid = nbg(cell).get("grade_id")
                if gid in solutions:
                    # what a student who found the right answer would write, or a catalogued wrong answer
                    cell.source = replaced.get(gid, solutions[gid])
        folder = g.root / "submitted" / student / g.assignment_id
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{g.assignment_id}.ipynb")


def read_scores(g: Graded) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(g.db_url, assignments.COURSE_ID) as gb:
        for student in [*STUDENTS, *g.wrong]:
            notebook = gb.find_submission_notebook(g.assignment_id, g.assignment_id, student)
            # the autograded test cells only: written answers wait for the teacher (their score is None)
            g.scores[student] = {grade.name: (float(grade.score), float(grade.max_score))
                                 for grade in notebook.grades if TESTS_ID.match(grade.name)}


def build_and_grade(g: Graded) -> Graded:
    try:
        t = time.perf_counter()
        assignments.sync_source(g.root, {g.assignment_id: NOTEBOOKS[g.assignment_id]})
        assignments.generate(g.root, [g.assignment_id], db_url=g.db_url)
        make_submissions(g)
        g.seconds["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        assignments.nbgrader(["autograde", g.assignment_id, "--force"], g.root, g.db_url, env=ENV)
        g.seconds[f"autograde x{2 + len(g.wrong)}"] = time.perf_counter() - t
        read_scores(g)
    except Exception as err:  # reported by every test of this notebook
        g.error = f"{type(err).__name__}: {err}"
    return g


def validate_source(g: Graded) -> Graded:
    t = time.perf_counter()
    proc = assignments.nbgrader(["validate", str(g.root / "validate" / g.source.name)], g.root, env=ENV, check=False)
    g.validate_output = proc.stdout + proc.stderr
    g.seconds["validate"] = time.perf_counter() - t
    return g


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[str, Graded]:
    """Every notebook generated, autograded (correct, zero, wrong answers) and validated, two at a time."""
    base = tmp_path_factory.mktemp("course")
    result = {}
    for aid, path in NOTEBOOKS.items():
        root = base / aid
        (root / "validate").mkdir(parents=True)
        shutil.copy2(assignments.CONFIG, root / "nbgrader_config.py")
        # validate a copy outside the repository: the notebooks must not rely on their location
        shutil.copy2(path, root / "validate" / path.name)
        result[aid] = Graded(aid, root, root / "source" / aid / f"{aid}.ipynb")
    t = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        jobs = [pool.submit(build_and_grade, g) for g in result.values()]
        jobs += [pool.submit(validate_source, g) for g in result.values()]
        for job in jobs:
            job.result()
    total = time.perf_counter() - t
    print(f"\nassignments: generate+autograde+validate of {len(result)} notebook(s) took {total:.0f} s")
    for g in result.values():
        times = ", ".join(f"{k} {v:.0f} s" for k, v in g.seconds.items())
        points = {s: sum(v[0] for v in g.scores.get(s, {}).values()) for s in [*STUDENTS, *g.wrong]}
        print(f"  {g.assignment_id}: {times}; points {points} of "
              f"{sum(v[1] for v in g.scores.get('correct', {}).values())}")
    return result


def ready(graded: dict[str, Graded], aid: str) -> Graded:
    g = graded[aid]
    if g.error:
        pytest.fail(f"{aid}: building or autograding the assignment failed:\n{g.error}")
    return g


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("aid", IDS)
def test_source_follows_the_exercise_format(aid):
    nb = nbformat.read(NOTEBOOKS[aid], as_version=4)
    problems = format_problems(nb, aid[:2])
    assert not problems, f"notebooks/{aid}.ipynb breaks the exercise format:\n  " + "\n  ".join(problems)


@pytest.mark.skipif(not IDS, reason="no numbered notebooks yet")
def test_the_scripts_solution_markers_are_nbgraders():
    assert assignments.SOLUTION == SOLUTION
    marked = f"def f():\n    {SOLUTION[0]}\n    return 1\n    {SOLUTION[1]}"
    assert assignments.wrong_answer(marked) == "def f():\n    return None  # deliberately wrong"


@pytest.mark.parametrize("aid", IDS)
def test_replace_solutions_releases_cells_as_nbgrader_does(aid):
    """The marker parser of the tests and the classroom gives nbgrader's own ClearSolutions output."""
    clear = ClearSolutions()
    stub = clear.code_stub["python"]  # two lines: "# YOUR CODE HERE", "raise NotImplementedError()"
    nb = nbformat.read(NOTEBOOKS[aid], as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and SOLUTION[0] in c.source]
    assert cells, f"{aid}: no solution cells"
    for cell in cells:
        released = nbformat.v4.new_code_cell(cell.source)
        clear._replace_solution_region(released, "python")
        assert assignments.replace_solutions(cell.source, stub) == released.source, cell.source


@pytest.mark.integration
def test_make_assignments_command(tmp_path):
    """The command behind `make assignments` (here with --no-db, on the first notebook; the session
    fixture generates every notebook through the same functions) into a folder outside the repository."""
    aid = IDS[0]
    assert assignments.main(["--root", str(tmp_path), "--no-db", aid]) == 0
    assert (tmp_path / "source" / aid / f"{aid}.ipynb").read_bytes() == NOTEBOOKS[aid].read_bytes()
    assert (tmp_path / "release" / aid / f"{aid}.ipynb").is_file(), f"no student version of {aid}"
    assert (tmp_path / "nbgrader_config.py").read_text() == assignments.CONFIG.read_text()
    assert not (tmp_path / "gradebook.db").exists(), "--no-db wrote a gradebook"
    with pytest.raises(SystemExit):  # a clear usage error, not a traceback
        assignments.main(["--root", str(tmp_path), "99_no_such_notebook"])


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_release_leaks_no_solution_and_no_hidden_test(aid, graded):
    g = ready(graded, aid)
    source = nbformat.read(g.source, as_version=4)
    release = nbformat.read(g.release, as_version=4)
    public = set()  # lines the source shows outside every marked region: not secret
    secret = {}  # line -> where it is in the source
    for i, cell in enumerate(source.cells):
        hidden_sol, visible = marked_regions(cell.source, SOLUTION)
        hidden_test, visible = marked_regions("\n".join(visible), HIDDEN)
        public |= {line.strip() for line in visible}
        for line in hidden_sol + hidden_test:
            if line.strip():
                secret.setdefault(line.strip(), f"cell {i} ({nbg(cell).get('grade_id', '')})")
    assert secret, "the source has no solution or hidden-test lines at all"
    released = [(i, line.strip()) for i, c in enumerate(release.cells) for line in c.source.splitlines()]
    leaks = [f"release cell {i}: {line!r} (source {secret[line]})" for i, line in released
             if line in secret and line not in public]
    assert not leaks, "solution or hidden-test lines in the student notebook:\n  " + "\n  ".join(leaks)
    markers = [(i, line) for i, line in released if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line]
    assert not markers, f"markers left in the student notebook: {markers}"
    outputs = [i for i, c in enumerate(release.cells) if c.cell_type == "code" and c.outputs]
    assert not outputs, f"the student notebook has outputs in cells {outputs}"
    checked = sum(1 for line in secret if line not in public)
    assert checked >= len(exercises(source)), f"only {checked} secret lines to check"


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_student_release_runs_except_the_exercises(aid, graded):
    """The untouched release, executed by nbgrader: only exercises fail, with NotImplementedError."""
    g = ready(graded, aid)
    nb = nbformat.read(g.autograded("zero"), as_version=4)
    found = exercises(nbformat.read(g.source, as_version=4))
    tests = {f"nb{aid[:2]}_ex{k}_tests" for k in found}
    solutions = {f"nb{aid[:2]}_ex{k}_solution" for k in found}
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        gid = nbg(cell).get("grade_id", "")
        if gid in tests:
            if [e.ename for e in errors] != ["NotImplementedError"]:
                problems.append(f"test cell {gid}: expected NotImplementedError, got "
                                f"{[(e.ename, e.evalue[:200]) for e in errors] or 'no error'}")
        elif gid in solutions:
            if errors and errors[0].ename != "NotImplementedError":
                problems.append(f"solution cell {gid}: {errors[0].ename}: {errors[0].evalue[:200]}")
        elif errors:
            problems.append(f"cell {i} (outside the exercises): {errors[0].ename}: {errors[0].evalue[:300]}")
        if not cell.get("execution_count"):
            problems.append(f"cell {i} was not executed")
    assert not problems, f"student version of {aid}:\n  " + "\n  ".join(problems)


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_autograde_correct_submission_scores_full_points(aid, graded):
    g = ready(graded, aid)
    scores = g.scores["correct"]
    expected = {f"nb{aid[:2]}_ex{ex.number}_tests": ex.points
                for ex in exercises(nbformat.read(g.source, as_version=4)).values()}
    assert {k: v[1] for k, v in scores.items()} == expected, "gradebook max points differ from the source"
    lost = {k: v for k, v in scores.items() if v[0] != v[1]}
    assert not lost, f"the source's own answers lose points (score, max): {lost}"
    # autograding used the hidden tests (nbgrader restores them from the gradebook)
    source = nbformat.read(g.source, as_version=4)
    hidden = {nbg(c)["grade_id"]: marked_regions(c.source, HIDDEN)[0] for c in source.cells if nbg(c).get("grade")}
    graded_nb = nbformat.read(g.autograded("correct"), as_version=4)
    for cell in graded_nb.cells:
        lines = hidden.get(nbg(cell).get("grade_id"), [])
        assert all(line in cell.source.splitlines() for line in lines), \
            f"{nbg(cell)['grade_id']}: autograde ran without the hidden tests"


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_autograde_untouched_release_scores_zero(aid, graded):
    g = ready(graded, aid)
    scored = {k: v for k, v in g.scores["zero"].items() if v[0] != 0}
    assert not scored, f"the unanswered release earns points (score, max): {scored}"


@pytest.mark.parametrize("aid", IDS)
def test_wrong_answer_catalogue_covers_every_exercise(aid):
    """At least three catalogued wrong answers per exercise, each a full solution cell that differs
    from the source's and keeps the function names the tests call."""
    wrong = catalogue(aid)
    if wrong is None:
        pytest.skip(f"no tests/wrong_answers/nb{aid[:2]}.py yet")
    source = nbformat.read(NOTEBOOKS[aid], as_version=4)
    found = exercises(source)
    problems = [f"exercise {k} is catalogued but not in the notebook" for k in sorted(set(wrong) - set(found))]
    for k, ex in found.items():
        answers = wrong.get(k, [])
        if len(answers) < 3:
            problems.append(f"exercise {k}: {len(answers)} wrong answers catalogued, at least 3 expected")
        solution = source.cells[ex.solution].source
        needed = names_defined(ast.parse(python_source(stub_source(solution))))
        labels = [label for label, _ in answers]
        if len(set(labels)) != len(labels):
            problems.append(f"exercise {k}: duplicate labels {labels}")
        for label, src in answers:
            if src.strip() == solution.strip():
                problems.append(f"exercise {k} {label!r}: identical to the source's answer")
            try:
                missing = needed - names_defined(ast.parse(python_source(src)))
            except SyntaxError as err:
                problems.append(f"exercise {k} {label!r}: does not parse: {err}")
                continue
            if missing:
                problems.append(f"exercise {k} {label!r}: does not define {sorted(missing)}")
            if SOLUTION[0] in src or HIDDEN[0] in src:
                problems.append(f"exercise {k} {label!r}: contains an nbgrader marker")
    assert not problems, f"tests/wrong_answers/nb{aid[:2]}.py:\n  " + "\n  ".join(problems)


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_autograde_wrong_answers_score_zero_and_leave_the_rest(aid, graded):
    """Every wrong answer (catalogued, or `return None` without a catalogue) scores zero on its exercise,
    and the exercises answered correctly in the same submission keep full marks."""
    g = ready(graded, aid)
    assert g.wrong, "no wrong-answer submission was graded"
    problems = []
    for student, answers in g.wrong.items():
        scores = g.scores[student]
        for k, (label, _) in answers.items():
            got = scores[f"nb{aid[:2]}_ex{k}_tests"]
            if got[0] != 0:
                problems.append(f"{student}: exercise {k} wrong answer {label!r} still earns {got[0]:g} of {got[1]:g}")
        others = {name: v for name, v in scores.items()
                  if int(TESTS_ID.match(name).group(2)) not in answers and v[0] != v[1]}
        if others:
            problems.append(f"{student}: exercises answered correctly lose points {others} next to the wrong "
                            f"answers to {sorted(answers)}: an exercise's tests depend on another's answer")
    assert not problems, "\n  ".join(["autograding the wrong answers:", *problems])


@pytest.mark.integration
@pytest.mark.parametrize("aid", IDS)
def test_nbgrader_validate_passes_on_the_source(aid, graded):
    out = graded[aid].validate_output
    assert "Success! Your notebook passes all the tests." in out and "VALIDATION FAILED" not in out, \
        f"`nbgrader validate notebooks/{aid}.ipynb` does not pass:\n{out[-3000:]}"
