"""The student environment: the wheel alone runs a released notebook and holds no solution.

Builds the wheel (`pip wheel --no-deps`), installs it into a fresh venv that borrows torch and
Jupyter from this one without the checkout's editable hook, runs a released student notebook there
(the exercise cells excepted: in a student version they raise NotImplementedError), and scans every
installed file for solution and hidden-test lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "classroom"))
sys.path.insert(0, str(REPO / "scripts"))
import assignments  # noqa: E402
import student_env  # noqa: E402

NOTEBOOK = "02_plain_cnn_fails"  # loads MNIST and the shipped checkpoints
MNIST = sorted(p.name for p in (REPO / "data" / "MNIST" / "raw").glob("*.gz"))
CHECKPOINTS = sorted(p.name for p in (REPO / "eqcourse" / "checkpoints").iterdir() if p.suffix in {".pt", ".json"})
#: checkpoints no notebook loads: in the repository (load_pretrained finds them there), not in the wheel
REPO_ONLY = [name for name in CHECKPOINTS if name.startswith("rot_") and name.endswith(".pt")]

RUNNER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import eqcourse, eqcourse.data, json as _j\n"
    "print(_j.dumps({'package': eqcourse.__file__, 'data': str(eqcourse.data.DATA_DIR)}))"))
NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True).execute()
report = []
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    errors = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    report.append({"grade_id": grade_id, "errors": errors, "text": text})
print(json.dumps({"python": sys.executable, "cells": report}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return student_env.build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def env(tmp_path_factory, wheel) -> Path:
    """The fresh venv's root."""
    root = tmp_path_factory.mktemp("student") / "venv"
    student_env.make_student_env(root, wheel)
    return root


def site_packages(env: Path) -> Path:
    return env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def test_wheel_holds_package_checkpoints_and_mnist_and_nothing_else(wheel):
    with zipfile.ZipFile(wheel) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    listing = "\n".join(f"{i.file_size:>10,}  {i.filename}" for i in infos)
    print(f"\n{wheel.name}: {wheel.stat().st_size:,} bytes compressed, {len(names)} files, "
          f"{sum(i.file_size for i in infos):,} bytes unpacked\n{listing}")
    for name in MNIST:
        assert f"eqcourse/_data/MNIST/raw/{name}" in names, f"MNIST file {name} is not in the wheel"
    assert REPO_ONLY, "the rotated-MNIST checkpoints are missing from the repository"
    for name in CHECKPOINTS:
        if name in REPO_ONLY:
            assert f"eqcourse/checkpoints/{name}" not in names, f"no notebook loads {name}: keep it out of the wheel"
        else:
            assert f"eqcourse/checkpoints/{name}" in names, f"checkpoint {name} is not in the wheel"
    tops = {n.split("/")[0] for n in names}
    assert tops == {"eqcourse", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}, tops
    assert not [n for n in names if n.endswith(".ipynb") or "/notebooks/" in n or "/tests/" in n], names


def test_fresh_venv_imports_the_installed_package_not_the_checkout(env):
    python = env / "bin" / "python"
    code = "import eqcourse, eqcourse.data, torch; print(eqcourse.__file__); print(eqcourse.data.DATA_DIR)"
    out = subprocess.run(
        [str(python), "-c", code],
        cwd="/", env=student_env.student_env_vars(), capture_output=True, text=True, check=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(env), f"eqcourse came from {out[0]}, not from the fresh venv {env}"
    assert Path(out[1]).is_relative_to(env), f"MNIST is read from {out[1]}, not from the installed package"
    assert not (site_packages(env) / "__editable___eqcourse_0_1_0_finder.py").exists()


def test_released_notebook_runs_in_the_fresh_venv(env, tmp_path):
    course = tmp_path / "course"
    assignments.sync_source(course, assignments.select([NOTEBOOK], assignments.course_notebooks()))
    (released,) = assignments.generate(course, [NOTEBOOK], db=False)
    (tmp_path / "runner.py").write_text(RUNNER)
    work = tmp_path / "student"
    work.mkdir()
    vars_ = {**student_env.student_env_vars(), "EQCOURSE_FAST": "1", "EQCOURSE_PROGRESS": "0",
             "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "JUPYTER_PLATFORM_DIRS": "1"}
    proc = subprocess.run([str(env / "bin" / "python"), str(tmp_path / "runner.py"), str(released)],
                          cwd=work, env=vars_, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(report["python"]).parent.parent == env
    cells = report["cells"]
    failed = [c for c in cells if c["errors"] and c["errors"] != ["NotImplementedError"]]
    assert not failed, f"cells failed in the student environment: {failed}"
    stubs = [c for c in cells if c["errors"]]
    assert stubs and all(c["grade_id"] and c["grade_id"].endswith("_tests") for c in stubs), stubs
    where = json.loads(cells[-1]["text"])
    assert Path(where["package"]).is_relative_to(env) and Path(where["data"]).is_relative_to(env), where


def test_no_solution_or_hidden_test_is_installed(env):
    secrets = student_env.secret_lines()
    assert len(secrets) >= 20, f"only {len(secrets)} secret regions found: is the scan looking at the notebooks?"
    # the scan can fail: the checkout's notebooks are full of solutions
    assert student_env.scan_for_secrets(REPO / "notebooks", secrets)
    installed = [site_packages(env) / "eqcourse", *site_packages(env).glob("eqcourse-*.dist-info"), env / "bin"]
    hits = [hit for root in installed for hit in student_env.scan_for_secrets(root, secrets)]
    assert not hits, "solutions in the student environment:\n" + "\n".join(hits)


def test_the_secret_scan_reads_markers_as_nbgrader_does():
    """A marker is a line that contains the marker text (nbgrader's rule), also after code or a comment."""
    source = (
        "x = 1\n# ### BEGIN SOLUTION\nsecret_one = 2\n### END SOLUTION\n"
        "if x:  ### BEGIN HIDDEN TESTS\n    secret_two = 3\n    ### END HIDDEN TESTS\ny = 4"
    )
    expected = {"solution": ["secret_one = 2"], "hidden tests": ["secret_two = 3"]}
    assert student_env.marked_lines(source) == expected
