"""The student environment: eqcourse installed from its wheel, without the checkout and its solutions.

    python classroom/student_env.py DIR      # build the wheel and a venv in DIR that runs the course

The venv holds eqcourse as a normal (non-editable) install: the package, its checkpoints and MNIST
(`eqcourse/_data/`), nothing else of the repository. Its other packages (torch, JupyterLab, nbgrader,
JupyterHub) are not reinstalled: a `.pth` file adds the site-packages of the interpreter that runs
this script, and `share/jupyter` and `etc/jupyter` link to that environment's Jupyter files. Only
that folder is added to the path, so the checkout's editable-install hook (a `.pth` file in it) is
never run: `import eqcourse` finds the installed copy. On a real server install everything into the
venv instead: `pip install -r requirements.txt dist/eqcourse-*.whl` (see docs/teaching.md).

Used by `make classroom`, `tests/test_wheel.py` and `tests/classroom/`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What the wheel is built from (a copy of these, so the build leaves nothing in the checkout).
WHEEL_SOURCES = ["pyproject.toml", "README.md", "eqcourse", "data"]
PTH_NAME = "eqcourse_base_environment.pth"
MARKERS = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden tests": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
}


def build_wheel(out_dir: str | Path, repo: str | Path = REPO) -> Path:
    """`pip wheel --no-deps` of the checkout `repo` into `out_dir`; returns the wheel's path."""
    repo, out_dir = Path(repo), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="eqcourse-wheel-src-") as tmp:
        src = Path(tmp)
        for name in WHEEL_SOURCES:
            path = repo / name
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: build the wheel from a full checkout of the course")
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, src / name)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
             "--wheel-dir", str(out_dir), str(src)],
            check=True, env={**os.environ, "PIP_NO_INPUT": "1"},
        )
    wheels = sorted(out_dir.glob("eqcourse-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip wheel ran but wrote no eqcourse-*.whl into {out_dir}")
    return wheels[-1]


def base_interpreter() -> str:
    """A Python of this version that every user may run (a venv's interpreter may sit under /root)."""
    candidates = [os.path.realpath(sys._base_executable), f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and all(os.stat(p).st_mode & 0o001 for p in [*path.parents, path]):
            return str(path)
    raise RuntimeError(f"no Python {sys.version_info[0]}.{sys.version_info[1]} that other users may run "
                       f"(tried {candidates}); install Debian's python3 or pass a public interpreter")


def make_student_env(target: str | Path, wheel: str | Path) -> Path:
    """A fresh venv in `target` with `wheel` installed; returns its python."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    subprocess.run([base_interpreter(), "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    base_prefix = Path(sys.prefix).resolve()
    for sub in ("share/jupyter", "etc/jupyter"):
        if (base_prefix / sub).is_dir():
            (target / sub).parent.mkdir(parents=True, exist_ok=True)
            (target / sub).symlink_to(base_prefix / sub)
    # install before the base environment is on the path: pip would see the checkout's editable eqcourse
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    "--no-index", str(wheel)], check=True, env={**student_env_vars(), "PIP_NO_INPUT": "1"})
    if not (purelib / "eqcourse" / "__init__.py").is_file():
        raise RuntimeError(f"pip did not install {Path(wheel).name} into {purelib}")
    base_purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    (purelib / PTH_NAME).write_text(f"{base_purelib}\n")
    return python


def student_env_vars(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: os.environ) without what would import the checkout instead of the wheel."""
    env = dict(os.environ if env is None else env)
    for name in ("PYTHONPATH", "EQCOURSE_DATA", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


# --- secrets: what must never reach a student ---------------------------------------------------------

def marked_lines(source: str) -> dict[str, list[str]]:
    """The lines of `source` between each pair of markers (kind -> lines, stripped, markers excluded)."""
    out: dict[str, list[str]] = {kind: [] for kind in MARKERS}
    inside = None
    for line in source.splitlines():
        text = line.strip()
        for kind, (begin, end) in MARKERS.items():
            if text.startswith(begin):
                inside = kind
                break
            if text.startswith(end):
                inside = None
                break
        else:
            if inside and text:
                out[inside].append(text)
    return out


def secret_lines(notebooks_dir: str | Path = REPO / "notebooks", min_length: int = 20) -> dict[str, set[str]]:
    """Distinctive lines of every solution and hidden-test region of the course notebooks.

    Returns origin ('notebook grade_id (kind) #n') -> the region's lines that are at least `min_length`
    characters long and that no notebook shows outside the markers (those are no secret).
    """
    regions: dict[str, set[str]] = {}
    public: set[str] = set()
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
            marked = marked_lines(source)
            hidden = {line for lines in marked.values() for line in lines}
            public.update(line.strip() for line in source.splitlines() if line.strip() not in hidden)
            for kind, lines in marked.items():
                if lines:
                    where = f"{path.name} {grade_id} ({kind}) #{len(regions)}"
                    regions[where] = {x for x in lines if len(x) >= min_length}
    return {where: lines - public for where, lines in regions.items() if lines - public}


def scan_for_secrets(root: str | Path, regions: dict[str, set[str]]) -> list[str]:
    """Files under `root` that hold a secret region (two of its lines, or its only line) or a marker.

    One shared line is not enough: a solution may reuse an ordinary line of the package (such as
    `c_out, c_in, k, _ = weight.shape`). Markers count in code and notebooks only (the README, which
    becomes the wheel's METADATA, explains them).
    """
    hits = []
    markers = [m for pair in MARKERS.values() for m in pair]
    pattern = re.compile("|".join(re.escape(m) for m in markers))
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.suffix in {".pt", ".gz", ".pyc", ".whl"}:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix in {".py", ".ipynb"} and pattern.search(text):
            hits.append(f"{path}: a nbgrader marker")
        lines = {line.strip() for line in text.splitlines()}
        for where, secret in regions.items():
            found = lines & secret
            if len(found) >= min(2, len(secret)):
                hits.append(f"{path}: {sorted(found)[0]!r} and {len(found) - 1} more line(s) of {where}")
    return hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", help="folder for the venv (replaced if it exists)")
    parser.add_argument("--wheel-dir", default=str(REPO / "dist"), help="where to write the wheel (default: dist/)")
    args = parser.parse_args(argv)
    wheel = build_wheel(args.wheel_dir)
    python = make_student_env(args.target, wheel)
    site = Path(args.target) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    hits = scan_for_secrets(site / "eqcourse", secret_lines())
    if hits:
        print("error: the installed package holds solutions:\n  " + "\n  ".join(hits), file=sys.stderr)
        return 1
    print(f"student environment: {python} (eqcourse from {wheel.name}, no solutions inside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
