"""Binder (repo2docker) configuration: Python 3.11, binder/requirements.txt, and the same packages as `make lab`.

repo2docker ignores the root pyproject.toml and requirements.txt once `binder/` exists, so
binder/requirements.txt must name the package itself and everything the course imports.
`repo2docker --no-build --debug` prints the Dockerfile it would build, without Docker.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_WHEELS = {"torch", "torchvision"}  # pinned as <root pin>+cpu on Binder
# repo2docker's base environment provides these: not re-pinned (jupyterhub as jupyterhub-singleuser 5.*,
# which a Zero to JupyterHub pod runs; see classroom/z2jh/values.yaml)
BASE_IMAGE = {"jupyterlab", "notebook", "jupyterhub"}
# imported by the course but installed with Jupyter itself (ipykernel brings IPython)
JUPYTER_PROVIDED = {"ipython", "ipykernel", "jupyter-client", "jupyter-core", "traitlets"}
TEST_ONLY = {"pytest", "nbval", "nbstripout", "ruff", "playwright", "psutil", "jupyter-repo2docker"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(path: Path) -> tuple[dict[str, str], list[str]]:
    """Requirement lines of `path`: ({canonical name: version pin or ''}, [option and local lines])."""
    pins, other = {}, []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-", ".")):
            other.append(line)
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*(\S+))?", line)
        assert match, f"{path.name}: cannot read requirement line {raw!r} (expected `name==version`)"
        pins[_canonical(match[1])] = match[2] or ""
    return pins, other


def course_imports() -> dict[str, set[str]]:
    """Top-level modules imported by eqcourse/*.py and notebooks/*.ipynb -> the files importing them."""
    sources = [(str(p.relative_to(REPO)), p.read_text()) for p in sorted((REPO / "eqcourse").glob("*.py"))]
    for nb_path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        code = "\n".join(
            "\n".join(line for line in "".join(c["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
            for c in cells
            if c["cell_type"] == "code"
        )
        sources.append((str(nb_path.relative_to(REPO)), code))
    found: dict[str, set[str]] = {}
    for name, text in sources:
        for node in ast.walk(ast.parse(text, filename=name)):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != "eqcourse":
                    found.setdefault(top, set()).add(name)
    return found


def test_runtime_pins_python_311() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11", "binder/runtime.txt must read python-3.11"


def test_binder_requirements_match_the_root_requirements() -> None:
    root, _ = parse_requirements(REPO / "requirements.txt")
    binder, options = parse_requirements(BINDER / "requirements.txt")
    assert f"--extra-index-url {CPU_INDEX}" in options, f"binder/requirements.txt must add the CPU index {CPU_INDEX}"
    assert "-e ." in options, "binder/requirements.txt must install the course package itself (`-e .`)"
    assert not BASE_IMAGE & binder.keys(), f"the base image provides {sorted(BASE_IMAGE)}: do not re-pin them"
    assert not TEST_ONLY & binder.keys(), f"test-only tools on Binder: {sorted(TEST_ONLY & binder.keys())}"
    expected = {name: pin for name, pin in root.items() if name not in BASE_IMAGE | TEST_ONLY}
    assert binder.keys() == expected.keys(), (
        f"binder/requirements.txt names {sorted(binder)}, the root requirements.txt {sorted(expected)} "
        "(minus the base image's jupyterlab/notebook and the test tools): keep them the same"
    )
    for name, pin in expected.items():
        want = f"{pin}+cpu" if name in CPU_WHEELS else pin
        assert binder[name] == want, f"{name}: binder pins {binder[name]!r}, expected {want!r} (root pins {pin!r})"
    # the CPU index appears nowhere else: nothing outside binder/ may install from it
    for path in (REPO / "requirements.txt", REPO / "pyproject.toml", REPO / "Makefile"):
        assert "download.pytorch.org" not in path.read_text(), f"{path.name} names the PyTorch index"


def test_every_imported_package_is_required() -> None:
    imports = course_imports()
    assert {"torch", "numpy", "tqdm"} <= imports.keys(), f"the import scan found too little: {sorted(imports)}"
    dists = packages_distributions()
    root, _ = parse_requirements(REPO / "requirements.txt")
    binder, _ = parse_requirements(BINDER / "requirements.txt")
    missing = []
    for module, files in sorted(imports.items()):
        names = {_canonical(d) for d in dists.get(module, [])}
        if not names:
            missing.append(f"{module} (imported by {sorted(files)}) is not installed in .venv")
        elif names & JUPYTER_PROVIDED:
            assert "jupyterlab" in root, f"{module} comes with jupyterlab, which requirements.txt must name"
        elif not (names & root.keys() and names & binder.keys()):
            files_reqs = (("requirements.txt", root), ("binder/requirements.txt", binder))
            where = [f for f, reqs in files_reqs if not names & reqs.keys()]
            missing.append(f"{module} (distribution {sorted(names)}, imported by {sorted(files)}) missing from {where}")
    assert not missing, "imported but not required:\n" + "\n".join(missing)


@pytest.mark.integration
def test_repo2docker_builds_python_311_with_binder_requirements() -> None:
    exe = shutil.which("repo2docker", path=str(Path(sys.executable).parent)) or shutil.which("repo2docker")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("repo2docker is missing: it is in requirements.txt (jupyter-repo2docker); run `make venv`")
        pytest.skip("repo2docker is not installed: `make venv` installs jupyter-repo2docker")
    # as on mybinder.org: a non-root user (uid 1000) who owns the repository copy
    cmd = [exe, "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", "."]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"repo2docker failed:\n{out[-3000:]}"
    lines = out.splitlines()
    print("\n".join(line for line in lines if re.search(r"python=3|environment-2epy|requirements", line)))
    assert "Building conda environment for python=3.11" in out, f"repo2docker did not choose Python 3.11:\n{out[:800]}"
    # the lock file of the Python 3.11 base environment (its path is escaped in the COPY line)
    assert re.search(r"environment(\.|-2e)py(-|-2d)3(\.|-2e)11(-|-2d)linux", out), "no Python 3.11 base environment"
    install = [i for i, line in enumerate(lines) if 'pip install --no-cache-dir -r "binder/requirements.txt"' in line]
    assert len(install) == 1, "repo2docker does not install binder/requirements.txt"
    # `-e .` needs the whole repository in place: repo2docker must install after copying it
    copy = [i for i, line in enumerate(lines) if re.match(r"COPY --chown=\S+ src/ \$\{REPO_DIR\}/", line)]
    assert copy and copy[0] < install[0], "binder/requirements.txt is installed before the repository is copied"
    post = [i for i, line in enumerate(lines) if line.strip() == "RUN ./binder/postBuild"]
    assert post and post[0] > install[0], "binder/postBuild (make uses the image's environment) does not run last"
    assert not any('-r "requirements.txt"' in line or re.search(r"pip install .* \.$", line) for line in lines), (
        "repo2docker also installs the root requirements.txt or pyproject.toml: binder/ should be the only recipe"
    )


def test_readme_badge_opens_the_first_notebook_in_jupyterlab() -> None:
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not written yet")
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme.read_text())
    assert links, "README.md has no mybinder.org launch link"
    first = sorted((REPO / "notebooks").glob("0*.ipynb"))[0]
    for link in links:
        match = re.search(r"[?&]urlpath=lab/tree/([^&]+)", link)
        assert match, f"the Binder link {link} does not open JupyterLab (urlpath=lab/tree/...)"
        assert (REPO / match[1]).is_file(), f"the Binder link opens {match[1]}, which does not exist"
    assert any(f"urlpath=lab/tree/notebooks/{first.name}" in link for link in links), f"no link opens {first.name}"
