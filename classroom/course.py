"""Set up, run and remove the eqcourse classroom: JupyterHub, system users and nbgrader's exchange.

    python classroom/course.py prepare DIR --instructor NAME --students A,B     # as root
    python classroom/course.py serve DIR --instructor NAME --students A,B       # prepare, passwords, hub
    python classroom/course.py remove DIR --users NAME,A,B,GRADER               # delete users and DIR

`prepare` makes, in DIR (every path below is inside it):

    venv/              the student environment: eqcourse from its wheel, no solutions (student_env.py)
    etc/common/        nbgrader_config.py (course id, exchange), on every user's JUPYTER_CONFIG_PATH
    etc/student/       what students do not get: formgrader, course list, Create Assignment (off)
    etc/instructor/    the instructor's nbgrader settings (checked collect, sandboxed autograde,
                       feedback without hidden tests), sandbox.json, the non-blocking autograde
    etc/lib/           classroom/eqclassroom (on every user's PYTHONPATH)
    exchange/          nbgrader's exchange, mode 1777; exchange/<course>/ made here, owned by the instructor
    grading/           the sandboxed kernels' socket folders (instructor's, the grader group may enter)
    home/NAME/         each user's home, mode 0700 (useradd -K HOME_MODE=0700)
    home/INSTRUCTOR/course/   the nbgrader course: source/ with every notebook, the course config
    hub/               JupyterHub's database and cookie secret, root only

and the grader account (`<instructor>-grader`, no home, no login) that runs submissions' kernels in
bubblewrap, with /etc/sudoers.d/eqcourse-<instructor> letting the instructor start bwrap as it.

Used by `make classroom` and tests/classroom/.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "scripts"))
import assignments  # noqa: E402
import student_env  # noqa: E402

CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
# Instructor tools that students must not see (docs/teaching.md, section 5).
STUDENT_OFF_LAB = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list"]
STUDENT_OFF_SERVER = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]
COURSE_ID = "eqcourse"
# the sandbox's tools (Debian: apt-get install -y bubblewrap sudo util-linux; `make sandbox-tools`)
SANDBOX_TOOLS = ["/usr/bin/bwrap", "/usr/bin/sudo", "/usr/bin/prlimit", "/usr/sbin/visudo"]


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("the classroom runs every user's server as that user: run it as root (sudo)")


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def add_user(name: str, home: Path) -> None:
    """A system user with a private home (mode 0700: no other user may read it)."""
    if not user_exists(name):
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                        "-K", "HOME_MODE=0700", name], check=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    shutil.chown(home, name, name)
    home.chmod(0o700)


def run_as(user: str, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """`args` run as `user` (runuser, a login-free switch), with that user's HOME and nothing of ours."""
    entry = pwd.getpwnam(user)
    env = {"HOME": entry.pw_dir, "USER": user, "LOGNAME": user, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(kwargs.pop("env", {}))
    return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *args],
                          cwd=kwargs.pop("cwd", "/"), **kwargs)


def grader_of(instructor: str) -> str:
    """The account that runs the sandboxed kernels of `instructor`'s course."""
    return f"{instructor}-grader"


def prepare(root: str | Path, instructor: str, students: list[str], wheel_dir: str | Path | None = None,
            cell_timeout: int = 300, notebook_timeout: int = 900) -> Path:
    """Everything the hub needs in `root` (see the module docstring); returns `root`.

    `cell_timeout` and `notebook_timeout`: autograding's limits per cell and per notebook, in seconds.
    """
    require_root()
    if not CHP.exists():
        raise FileNotFoundError(f"{CHP} is missing: run `npm ci --prefix classroom` (make classroom does)")
    missing = [tool for tool in SANDBOX_TOOLS if not Path(tool).exists()]
    if missing:
        raise FileNotFoundError(f"the grading sandbox needs {', '.join(missing)}: run `make sandbox-tools` "
                                "(as root: apt-get install -y bubblewrap sudo util-linux)")
    root = Path(root).resolve()
    for part in [root, *root.parents]:
        if part.exists() and not os.stat(part).st_mode & 0o001:
            mode = oct(os.stat(part).st_mode & 0o777)
            raise PermissionError(f"{part} is not reachable by other users (mode {mode}): "
                                  "put the classroom where every user may enter, e.g. /srv/eqcourse")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / "hub").mkdir(exist_ok=True)
    (root / "hub").chmod(0o700)
    (root / "home").mkdir(exist_ok=True)
    (root / "home").chmod(0o755)
    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)

    # the student environment, which every user may read and run
    wheel = student_env.build_wheel(wheel_dir or root / "dist")
    python = student_env.make_student_env(root / "venv", wheel)
    alembic = root / "venv" / "bin" / "alembic"  # nbgrader runs `alembic`: the base venv's script may be unreachable
    alembic.write_text(f'#!/bin/sh\nexec "{python}" -m alembic "$@"\n')
    alembic.chmod(0o755)
    probe = ("import importlib.util as u, jupyterhub, nbgrader\n"  # find, not import, torch: it is slow to load
             "missing = [m for m in ('eqcourse', 'torch', 'jupyterlab') if u.find_spec(m) is None]\n"
             "assert not missing, f'cannot find {missing}'\n"
             "assert open(u.find_spec('eqcourse').origin).read(1)")
    check = subprocess.run(["runuser", "-u", "nobody", "--", str(python), "-c", probe],
                           capture_output=True, text=True, cwd="/")
    if check.returncode != 0:
        raise PermissionError("other users cannot run the student environment (the base venv must be readable "
                              f"by everyone, and so must the folders above it):\n{check.stderr[-1500:]}")

    etc = root / "etc"
    (etc / "common").mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "nbgrader_config.py", etc / "common" / "nbgrader_config.py")
    if (etc / "lib").exists():
        shutil.rmtree(etc / "lib")
    shutil.copytree(HERE / "eqclassroom", etc / "lib" / "eqclassroom", ignore=shutil.ignore_patterns("__pycache__"))
    student = etc / "student"
    (student / "labconfig").mkdir(parents=True, exist_ok=True)
    (student / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in STUDENT_OFF_LAB}}, indent=1))
    (student / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {name: False for name in STUDENT_OFF_SERVER}}}, indent=1))
    for name in [instructor, *students]:
        add_user(name, root / "home" / name)
    grader = grader_of(instructor)
    sandbox = sandbox_settings(root, python, instructor, grader, cell_timeout, notebook_timeout)
    mine = etc / "instructor"
    mine.mkdir(exist_ok=True)
    shutil.copy2(HERE / "nbgrader_instructor_config.py", mine / "nbgrader_config.py")
    (mine / "sandbox.json").write_text(json.dumps(sandbox, indent=1))
    (mine / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"eqclassroom.nonblocking": True}}}, indent=1))
    for path in [etc, *etc.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    make_exchange(exchange, instructor)

    # the instructor's course: every source notebook, the course's nbgrader settings, and the course root
    home = Path(pwd.getpwnam(instructor).pw_dir)
    course = home / "course"
    assignments.sync_source(course, assignments.course_notebooks())
    (home / ".jupyter").mkdir(exist_ok=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        "# the eqcourse course folder (written by classroom/course.py)\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})\n"
    )
    subprocess.run(["chown", "-R", f"{instructor}:{instructor}", str(course), str(home / ".jupyter")], check=True)
    return root


def make_exchange(exchange: Path, instructor: str) -> None:
    """exchange/<course>/ and its folders, owned by the instructor, before any student could make them."""
    course = exchange / COURSE_ID
    info = os.lstat(course) if os.path.lexists(course) else None
    if info is not None and (not os.path.isdir(course) or os.path.islink(course)
                             or info.st_uid != pwd.getpwnam(instructor).pw_uid):
        raise PermissionError(f"{course} exists and is not {instructor}'s folder: someone took it first; "
                              "remove it (as root) and run prepare again")
    for path, mode in [(course, 0o755), (course / "outbound", 0o755), (course / "inbound", 0o2733),
                       (course / "feedback", 0o711)]:
        path.mkdir(exist_ok=True)
        shutil.chown(path, instructor, instructor)
        path.chmod(mode)


def sandbox_settings(root: Path, python: Path, instructor: str, grader: str, cell_timeout: int,
                     notebook_timeout: int) -> dict:
    """The grader account, its sudo rule and socket folder; returns etc/instructor/sandbox.json's content."""
    if not user_exists(grader):
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", grader], check=True)
    subprocess.run(["usermod", "--append", "--groups", grader, instructor], check=True)
    rule = Path(f"/etc/sudoers.d/eqcourse-{instructor}")
    text = (f"# written by eqcourse: {instructor} starts graded kernels in bubblewrap as {grader}\n"
            f"Defaults:{instructor} !use_pty, !lecture\n"
            f"{instructor} ALL=({grader}) NOPASSWD: /usr/bin/bwrap\n")
    staged = rule.with_name(f".{rule.name}.new")
    staged.write_text(text)
    staged.chmod(0o440)
    check = subprocess.run(["visudo", "-cqf", str(staged)], capture_output=True, text=True)
    if check.returncode != 0:
        staged.unlink()
        raise RuntimeError(f"visudo rejects the grader's sudo rule: {check.stdout}{check.stderr}")
    staged.rename(rule)
    sockets = root / "grading"
    sockets.mkdir(exist_ok=True)
    shutil.chown(sockets, instructor, grader)
    sockets.chmod(0o710)
    probe = "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
    paths = json.loads(subprocess.run(["runuser", "-u", "nobody", "--", str(python), "-c", probe], check=True,
                                      capture_output=True, text=True, cwd="/").stdout)
    found = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)} | {str(root / "venv")})
    binds = [p for p in found if not p.startswith(("/usr/", "/etc/"))
             and not any(p != q and p.startswith(q + "/") for q in found)]
    return {"grader": grader, "python": str(python), "binds": binds, "socket_root": str(sockets),
            "cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout}


def hub_env(root: str | Path, instructor: str, students: list[str], port: int = 8000,
            password: str | None = None, auth: str | None = None) -> dict[str, str]:
    """The environment for `jupyterhub -f classroom/jupyterhub_config.py` (`auth`: "pam", or "dummy" for tests)."""
    auth = auth or os.environ.get("EQCOURSE_AUTH", "pam")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "EQCOURSE_DATA"}}
    env.update({
        "EQCOURSE_CLASSROOM": str(Path(root).resolve()),
        "EQCOURSE_INSTRUCTORS": instructor,
        "EQCOURSE_STUDENTS": ",".join(students),
        "EQCOURSE_HUB_PORT": str(port),
        "EQCOURSE_AUTH": auth,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]),
    })
    if auth == "dummy":
        env["EQCOURSE_DUMMY_PASSWORD"] = password or secrets.token_urlsafe(12)
    return env


def set_passwords(users: list[str]) -> dict[str, str]:
    """A generated password for each of `users` that has none yet (a locked or empty one); returns them.

    An account that already has a password keeps it: running `serve` again changes nobody's.
    """
    new = {}
    for name in users:
        status = subprocess.run(["passwd", "--status", name], capture_output=True, text=True, check=True).stdout
        if status.split()[1] in ("L", "NP"):
            new[name] = secrets.token_urlsafe(12)
    if new:
        subprocess.run(["chpasswd"], input="".join(f"{n}:{p}\n" for n, p in new.items()), text=True, check=True)
    return new


def hub_command() -> list[str]:
    return [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")]


def remove(root: str | Path | None, users: list[str]) -> list[str]:
    """Delete `users` (and their processes, which only exist because the classroom started them) and `root`."""
    problems = []
    for name in users:
        Path(f"/etc/sudoers.d/eqcourse-{name}").unlink(missing_ok=True)
        if not user_exists(name):
            continue
        uid = pwd.getpwnam(name).pw_uid
        for pid in _pids_of(uid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        proc = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
        if proc.returncode not in (0, 12):  # 12: could not remove the home (already gone): fine
            problems.append(f"userdel {name}: {proc.stderr.strip()}")
    if root is not None and Path(root).exists():
        shutil.rmtree(root, ignore_errors=True)
    return problems


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                continue
    return pids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prepare", "serve"):
        p = sub.add_parser(name)
        p.add_argument("root", help="classroom folder, e.g. /srv/eqcourse")
        p.add_argument("--instructor", required=True, help="the instructor's system user name")
        p.add_argument("--students", required=True, help="comma-separated student user names")
        p.add_argument("--port", type=int, default=8000)
    p = sub.add_parser("remove")
    p.add_argument("root")
    p.add_argument("--users", required=True, help="comma-separated user names to delete")
    args = parser.parse_args(argv)
    try:
        if args.command == "remove":
            problems = remove(args.root, [u for u in args.users.split(",") if u])
            print("\n".join(problems) or f"removed {args.users} and {args.root}")
            return 1 if problems else 0
        students = [s for s in args.students.split(",") if s]
        prepare(args.root, args.instructor, students)
        if args.command == "prepare":
            print(f"classroom prepared in {args.root}")
            return 0
        env = hub_env(args.root, args.instructor, students, args.port, auth="pam")
        print(f"\nJupyterHub on http://127.0.0.1:{args.port}/  users: {args.instructor} (instructor), "
              f"{', '.join(students)}; login with each account's system password", flush=True)
        new = set_passwords([args.instructor, *students])
        if new:
            print("New passwords (shown once, hand each to its owner; `passwd NAME` changes one):\n"
                  + "\n".join(f"  {name}: {password}" for name, password in new.items()) + "\n", flush=True)
        return subprocess.run(hub_command(), cwd=Path(args.root) / "hub", env=env).returncode
    except (PermissionError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
