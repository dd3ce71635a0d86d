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


def _reachable(path: Path) -> bool:
    """True when every user may reach `path` (o+x on each folder above it, o+r on the file)."""
    path = Path(path)
    return all(os.stat(p).st_mode & 0o001 for p in path.parents) and bool(os.stat(path).st_mode & 0o004)


def public_interpreter(dest: str | Path) -> Path:
    """This Python (the one that runs this script), runnable by every user; copied to `dest` if need be.

    A venv made by pyenv lives on an interpreter under /root, which no other user may enter. Then
    the interpreter (binary, shared library and standard library, without site-packages and tests,
    hard-linked where possible) is copied to `dest`, and the binary's library path, an absolute path
    into /root, is rewritten to `$ORIGIN/../lib`. (Debian's own python3.11 is no substitute: 3.11.2
    mishandles the possessive regular expressions of soupsieve, which nbgrader's HTML feedback needs.)
    """
    exe = Path(os.path.realpath(sys._base_executable))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = Path(sys.base_prefix).resolve()
    libs = sorted((base / "lib").glob(f"libpython{version}*.so*"))
    stdlib = base / "lib" / f"python{version}" / "os.py"
    if _reachable(exe) and all(_reachable(lib) for lib in libs) and _reachable(stdlib):
        return exe
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    skip = shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip")
    shutil.copytree(base / "lib" / f"python{version}", dest / "lib" / f"python{version}", ignore=skip,
                    copy_function=link)
    for lib in libs:
        if lib.is_symlink():
            (dest / "lib" / lib.name).symlink_to(os.readlink(lib))
        else:
            link(str(lib), str(dest / "lib" / lib.name))
    (dest / "bin").mkdir(parents=True)
    binary = exe.read_bytes()
    old = str(base / "lib").encode() + b"\0"
    new = b"$ORIGIN/../lib"
    if old in binary:  # the RUNPATH string in the dynamic string table: same length, padded with NULs
        binary = binary.replace(b"\0" + old, b"\0" + new + b"\0" * (len(old) - len(new)))
    target = dest / "bin" / f"python{version}"
    target.write_bytes(binary)
    target.chmod(0o755)
    for path in [dest, *dest.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return target


def make_student_env(target: str | Path, wheel: str | Path) -> Path:
    """A fresh venv in `target` with `wheel` installed; returns its python."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    interpreter = public_interpreter(target / "interpreter")
    subprocess.run([str(interpreter), "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    base_prefix = Path(sys.prefix).resolve()
    for sub in ("share/jupyter", "etc/jupyter"):
        if (base_prefix / sub).is_dir():
            (target / sub).parent.mkdir(parents=True, exist_ok=True)
            if _reachable(base_prefix / sub / "."):
                (target / sub).symlink_to(base_prefix / sub)
            else:
                _linked_copy(base_prefix / sub, target / sub)
    # install before the base environment is on the path: pip would see the checkout's editable eqcourse
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    "--no-index", str(wheel)], check=True, env={**student_env_vars(), "PIP_NO_INPUT": "1"})
    if not (purelib / "eqcourse" / "__init__.py").is_file():
        raise RuntimeError(f"pip did not install {Path(wheel).name} into {purelib}")
    base_purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    if not _reachable(base_purelib / "torch" / "__init__.py"):  # e.g. a checkout under /root
        base_purelib = _linked_copy(base_purelib, target / "base-site-packages")
    (purelib / PTH_NAME).write_text(f"{base_purelib}\n")
    return python


def _linked_copy(src: Path, dest: Path) -> Path:
    """`src` hard-linked (copied across file systems) to `dest`, for users who cannot reach `src`."""
    if subprocess.run(["cp", "-al", str(src), str(dest)], capture_output=True).returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest, symlinks=True)
    return dest


def student_env_vars(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: os.environ) without what would import the checkout instead of the wheel."""
    env = dict(os.environ if env is None else env)
    for name in ("PYTHONPATH", "EQCOURSE_DATA", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


# --- secrets: what must never reach a student ---------------------------------------------------------

def _regions(source: str) -> list[tuple[str | None, str]]:
    """Each non-empty line of `source`, stripped, with the kind of marked region it is in (None: outside)."""
    out: list[tuple[str | None, str]] = []
    inside = None
    for line in source.splitlines():
        text = line.strip()
        for kind, (begin, end) in MARKERS.items():
            if begin in text:  # nbgrader's rule: a line that contains the marker
                inside = kind
                break
            if end in text:
                inside = None
                break
        else:
            if text:
                out.append((inside, text))
    return out


def marked_lines(source: str) -> dict[str, list[str]]:
    """The lines of `source` between each pair of markers (kind -> lines, stripped, markers excluded)."""
    out: dict[str, list[str]] = {kind: [] for kind in MARKERS}
    for kind, text in _regions(source):
        if kind:
            out[kind].append(text)
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
            # a line a student sees outside the markers is no secret, even if a hidden test repeats it
            public.update(text for kind, text in _regions(source) if kind is None)
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
        hits += [f"{path}: {hit}" for hit in find_secrets(text, regions)]
    return hits


def find_secrets(text: str, regions: dict[str, set[str]]) -> list[str]:
    """The secret regions that `text` holds (two of a region's lines, or its only line), described.

    Lines are compared stripped; in a notebook's JSON each source line is a string of its own, so
    the JSON text is searched line by line after decoding the strings.
    """
    lines = {line.strip() for line in text.splitlines()}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "cells" in data:
        for cell in data["cells"]:
            source = cell.get("source", "")
            lines |= {line.strip() for line in ("".join(source) if isinstance(source, list) else source).splitlines()}
    hits = []
    for where, secret in regions.items():
        found = lines & secret
        if len(found) >= min(2, len(secret)):
            hits.append(f"{sorted(found)[0]!r} and {len(found) - 1} more line(s) of {where}")
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
