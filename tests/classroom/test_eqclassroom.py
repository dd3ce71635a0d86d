"""The classroom's nbgrader extensions on their own (no hub, no root): collect's checks, the gaming scan, feedback.

The same classes run in `make classroom-test` (tests/classroom/test_classroom.py), where students
attack them from their own accounts.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import pwd
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "classroom"))
import student_env  # noqa: E402
from eqclassroom import gaming  # noqa: E402
from eqclassroom.exchange import CheckedCollect  # noqa: E402
from eqclassroom.feedback import HIDDEN, HideTests  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


# --- collect -------------------------------------------------------------------------------------------------

def entry(inbound: Path, student: str, stamp: str, tag: str, notebook: str | None = "{}", secret: bool = True) -> Path:
    folder = inbound / f"{student}+a1+{stamp}+{tag}"
    folder.mkdir()
    (folder / "timestamp.txt").write_text(stamp)
    if secret:
        (folder / "submission_secret.txt").write_text("0123")
    if notebook is not None:
        (folder / "a1.ipynb").write_text(notebook)
    return folder


def collect(tmp_path: Path, **config) -> tuple[CheckedCollect, Path]:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(root=str(tmp_path / "course"), course_id="eqcourse", assignment_id="a1")
    app = CheckedCollect(coursedir=coursedir, authenticator=Authenticator(), root=str(tmp_path / "exchange"),
                         update=True, **config)
    app.start()
    return app, tmp_path / "course" / "submitted"


def test_collect_takes_the_newest_good_entry_and_skips_the_rest(tmp_path):
    me = getpass.getuser()
    other = next(p.pw_name for p in pwd.getpwall() if p.pw_uid != os.getuid())
    inbound = tmp_path / "exchange" / "eqcourse" / "inbound"
    inbound.mkdir(parents=True)
    secret = tmp_path / "instructor-source.ipynb"
    secret.write_text("SOLUTIONS")
    entry(inbound, me, "2026-01-01 10:00:00.000000 UTC", "honest", '{"honest": 1}')
    os.symlink(secret, entry(inbound, me, "2026-01-01 11:00:00.000000 UTC", "link", None) / "a1.ipynb")
    os.mkfifo(entry(inbound, me, "2026-01-01 12:00:00.000000 UTC", "fifo", None) / "a1.ipynb")
    with open(entry(inbound, me, "2026-01-01 13:00:00.000000 UTC", "big", None) / "a1.ipynb", "wb") as f:
        f.truncate(2**20 + 1)
    os.symlink(tmp_path, inbound / f"{me}+a1+2026-01-01 14:00:00.000000 UTC+dirlink")
    entry(inbound, me, "2026-01-01 14:30:00.000000 UTC", "nosecret", secret=False)
    entry(inbound, me, "2099-01-01 00:00:00.000000 UTC", "sub", None)  # a folder inside is fine ...
    (inbound / f"{me}+a1+2099-01-01 00:00:00.000000 UTC+sub" / "data").mkdir()
    os.symlink(secret, inbound / f"{me}+a1+2099-01-01 00:00:00.000000 UTC+sub" / "data" / "x")  # ... a link is not
    (inbound / f"{me}+a1").mkdir()
    (inbound / f"{me}+a1+yesterday+x").mkdir()
    forged = entry(inbound, other, "2026-01-01 15:00:00.000000 UTC", "forged")  # owned by me, claims `other`

    app, submitted = collect(tmp_path, max_bytes=2**20)
    log = "\n".join(app.rejected)
    got = submitted / me / "a1"
    assert json.loads((got / "a1.ipynb").read_text()) == {"honest": 1}, "the honest entry was not the one collected"
    assert not (submitted / other).exists(), "a submission owned by someone else was collected as theirs"
    for why in ["is a symbolic link", "is a FIFO", "more than 1048576 bytes", "'x' is a symbolic link",
                "is not a folder", "no submission_secret.txt", "not <student>+<assignment>", "unreadable timestamp",
                f"{forged.name}: it claims to be {other}'s but is owned by {me}"]:
        assert why in log, f"not reported: {why}\n{log}"
    stamp = datetime.datetime.strptime((got / "timestamp.txt").read_text(), "%Y-%m-%d %H:%M:%S.%f UTC")
    ctime = datetime.datetime.fromtimestamp((inbound / f"{me}+a1+2026-01-01 10:00:00.000000 UTC+honest"
                                             / "a1.ipynb").stat().st_ctime, datetime.UTC).replace(tzinfo=None)
    assert abs((stamp - ctime).total_seconds()) < 1, "the claimed 2026-01-01 10:00 was believed"


def test_collect_never_dates_a_submission_in_the_future(tmp_path):
    me = getpass.getuser()
    inbound = tmp_path / "exchange" / "eqcourse" / "inbound"
    inbound.mkdir(parents=True)
    entry(inbound, me, "2099-01-01 00:00:00.000000 UTC", "future", '{"future": 1}')
    before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    _, submitted = collect(tmp_path)
    stamp = datetime.datetime.strptime((submitted / me / "a1" / "timestamp.txt").read_text(),
                                       "%Y-%m-%d %H:%M:%S.%f UTC")
    assert stamp <= before + datetime.timedelta(seconds=1), stamp


# --- the gaming scan -----------------------------------------------------------------------------------------

GAMING = [
    "import torch\ntorch.allclose = lambda *a, **k: True",
    "torch.equal = lambda a, b: True",
    "import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None",
    "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    "ip = get_ipython()\nip.events.register('pre_run_cell', lambda info: None)",
    "import builtins\nbuiltins.isinstance = lambda *a: True",
    "isinstance = lambda *a: True",
    "import eqcourse.grading\neqcourse.grading.forbidden = None",
    "from eqcourse import grading as g\ng.forbidden = None",
    "import sys\nsys.modules['eqcourse.grading'] = None",
    "setattr(torch, 'all' + 'close', print)",
    "exec('torch.allclose = print')",
    "__import__('torch').allclose = print",
    "import importlib\nimportlib.import_module('torch').allclose = print",
    "import ctypes",
    "globals()['torch'] = None",
    "vars(torch)['allclose'] = print",
    "torch.__dict__['allclose']",
    "%run evil.py",
    "torch = None",
]


@pytest.mark.parametrize("code", GAMING)
def test_gaming_scan_flags_each_patch(code):
    assert gaming.flags(code), f"not flagged: {code!r}"


def test_gaming_scan_flags_nothing_in_the_course_or_its_solutions():
    """Every cell a student may edit in every course notebook, solutions included, passes the scan."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert gaming.notebook_flags(nb) == [], path.name
    honest = ["%matplotlib inline\nimport torch\nx = torch.zeros(3)\nassert torch.allclose(x, x)",
              "def f(table):\n    total = 0\n    for row in table:\n        total += sum(row)\n    return total",
              "from importlib.resources import files\nfrom IPython.display import display\nmax = 3"]
    for code in honest:
        assert gaming.flags(code) == [], code


# --- feedback ------------------------------------------------------------------------------------------------

def test_feedback_hides_hidden_tests_and_tracebacks():
    """On the source notebooks: every hidden-test line goes, every visible test line stays."""
    hidden = {where: lines for where, lines in student_env.secret_lines().items() if "(hidden tests)" in where}
    checked = 0
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        mine = {w: lines for w, lines in hidden.items() if w.startswith(path.name)}
        if not mine:
            continue
        tests = [c for c in nb.cells if c.cell_type == "code" and nbg(c).get("grade") and not nbg(c).get("solution")]
        assert student_env.find_secrets(nbformat.writes(nb), mine), f"{path.name}: the scan finds no hidden test"
        visible = {line.strip() for c in tests for line in c.source.split("### BEGIN HIDDEN")[0].splitlines()
                   if line.strip()}
        for cell in tests:
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="wrong",
                                                   traceback=["Traceback ...", "  hidden line", "AssertionError"])]
        nb, _ = HideTests().preprocess(nb, {})
        text = nbformat.writes(nb)
        assert not student_env.find_secrets(text, mine), f"{path.name}: hidden tests left"
        shown = {line.strip() for c in tests for line in c.source.splitlines()}
        assert visible - {HIDDEN} <= shown, f"{path.name}: visible test lines were removed"
        assert all(c.outputs[0].traceback == ["AssertionError: wrong"] for c in tests)
        checked += 1
    assert checked, "no course notebook has hidden tests"


# --- login ---------------------------------------------------------------------------------------------------

def test_pam_is_the_default_login_and_failed_logins_are_limited(tmp_path, monkeypatch):
    """Without EQCOURSE_AUTH the hub uses PAM; after 5 failures in 10 minutes an account is not even tried."""
    import asyncio

    from jupyterhub.auth import PAMAuthenticator
    from traitlets.config import PyFileConfigLoader

    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    monkeypatch.setenv("EQCOURSE_CLASSROOM", str(tmp_path))
    monkeypatch.setenv("EQCOURSE_INSTRUCTORS", "t")
    monkeypatch.setenv("EQCOURSE_STUDENTS", "s")
    monkeypatch.delenv("EQCOURSE_AUTH", raising=False)
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "classroom")).load_config()
    authenticator_class = config.JupyterHub.authenticator_class
    assert issubclass(authenticator_class, PAMAuthenticator), authenticator_class
    tried = []

    async def wrong_password(self, handler, data):
        tried.append(data["username"])

    monkeypatch.setattr(PAMAuthenticator, "authenticate", wrong_password)
    authenticator = authenticator_class(config=config)

    async def attempts(name: str, n: int) -> list:
        return [await authenticator.authenticate(None, {"username": name, "password": "guess"}) for _ in range(n)]

    assert asyncio.run(attempts("victim", 7)) == [None] * 7
    assert tried == ["victim"] * 5, "PAM was still asked after 5 failures"
    asyncio.run(attempts("other", 1))
    assert tried[-1] == "other", "one account's failures locked another"
