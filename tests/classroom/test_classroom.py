"""The classroom for real: JupyterHub, system users and nbgrader's exchange, played by four people.

`make classroom-test` (part of `make test`, as root) runs this; a plain `pytest tests` skips it. It
creates an instructor and four students as system users, starts the hub of `classroom/`, and plays
`01_groups` through the exchange. Everything a user does happens in that user's own single-user
server (as that user's uid), reached through the hub with an API token: the instructor's formgrader
API generates, releases, collects, autogrades and returns feedback; each student's nbgrader
Assignments API fetches, submits and fetches feedback. One student solves the assignment (the
source's solution cells), one submits it untouched, one gets one exercise wrong. Then students try
to read what is not theirs (as their system user) and a logged-out browser tries the hub's pages.
Expected scores come from the source notebook's nbgrader metadata, not from a table here.

Then the attacks of issue 18, each as a student would try it (as the student's system user, or in a
submitted notebook), each test asserting that the harm did not happen: a forged `--student`, a
future timestamp, links, FIFOs, oversized and malformed entries in inbound/, a squatted course
folder, and a hostile submission (from a fourth student who uses only the command line) that
steals, plants, phones home, forks, loops, eats memory and rewires IPython so later tests pass.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "classroom"))
import course  # noqa: E402
import student_env  # noqa: E402

ASSIGNMENT = "01_groups"
SOURCE = REPO / "notebooks" / f"{ASSIGNMENT}.ipynb"
TEACHER = "eqct-teacher"
SOLVER, IDLE, WRONG = "eqct-alice", "eqct-bob", "eqct-carol"
STUDENTS = [SOLVER, IDLE, WRONG]
HOSTILE = "eqct-mallory"  # command line only (no server): the hostile submission
GRADER = course.grader_of(TEACHER)
MARK = "eqc" + secrets.token_hex(6)  # in everything the attacks leave, to look for it afterwards
CHROMIUM = Path(os.environ.get("EQCOURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.skipif(
    os.environ.get("EQCOURSE_CLASSROOM_TEST") != "1",
    reason="the classroom test runs in `make classroom-test` (as root; it creates system users)",
)


def nbg(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def autograded_points(source: dict) -> dict[str, float]:
    """grade_id -> points of every autograded test cell (graded, not a solution: manual answers excluded)."""
    return {nbg(c)["grade_id"]: float(nbg(c)["points"]) for c in source["cells"]
            if c["cell_type"] == "code" and nbg(c).get("grade") and not nbg(c).get("solution")}


def without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not any(m in line for m in course.assignments.SOLUTION))


@dataclass
class Hub:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    password: str
    timings: dict[str, float] = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    def call(self, path: str, method: str = "GET", body: object = None, token: str | None = "default",
             timeout: float = 300) -> tuple[int, object]:
        """An HTTP request through the hub's proxy; returns (status, decoded JSON or raw bytes)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {self.token if token == 'default' else token}"
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT") else None)
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        except (urllib.error.URLError, ConnectionError) as err:  # nothing listens (yet)
            return 0, str(err)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def ok(self, path: str, method: str = "GET", body: object = None) -> object:
        status, out = self.call(path, method, body)
        assert status < 300, f"{method} {path}: HTTP {status}: {str(out)[-2000:]}"
        if isinstance(out, dict) and out.get("success") is False:
            raise AssertionError(f"{method} {path} failed: {out.get('error') or out.get('log')}"[-4000:])
        return out


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_user(user: str, code: str) -> dict:
    """Run Python `code` as the system user `user` with the classroom's interpreter; returns its JSON."""
    proc = course.run_as(user, [str(HUB_ROOT[0] / "venv" / "bin" / "python"), "-c", code],
                         capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"as {user}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


HUB_ROOT: list[Path] = []
TRY_READ = r"""
import json, sys
results = {}
for path in sys.argv[1:] if len(sys.argv) > 1 else PATHS:
    try:
        with open(path, "rb") as f:
            f.read(1)
        results[path] = "read"
    except PermissionError:
        results[path] = "denied"
    except FileNotFoundError:
        results[path] = "missing"
print(json.dumps(results))
"""


def try_read(user: str, paths: list[Path]) -> dict[str, str]:
    return as_user(user, f"PATHS = {json.dumps([str(p) for p in paths])}\n{TRY_READ}")


@pytest.fixture(scope="module")
def hub() -> Hub:
    if os.geteuid() != 0:
        reason = "the classroom test creates system users and runs servers as them: run it as root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI runs as root)", pytrace=False)
        pytest.skip(reason)
    users = [TEACHER, *STUDENTS, HOSTILE, GRADER]
    course.remove(None, users)  # leftovers of an interrupted run (these names are the test's own)
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="eqcourse-classroom-", dir="/tmp"))
    root.chmod(0o755)
    HUB_ROOT[:] = [root]
    process = None
    try:
        course.prepare(root, TEACHER, [*STUDENTS, HOSTILE], cell_timeout=30, notebook_timeout=240)
        timings = {"prepare (wheel, venv, users)": time.monotonic() - t0}
        port = free_port()
        token = secrets.token_hex(32)
        env = course.hub_env(root, TEACHER, [*STUDENTS, HOSTILE], port, auth="dummy")
        env.update({"EQCOURSE_CLASSROOM_API_TOKEN": token, "EQCOURSE_FAST": "1",
                    "EQCOURSE_HUB_INTERNAL_PORT": str(free_port()), "EQCOURSE_PROXY_API_PORT": str(free_port())})
        log = root / "hub" / "hub.log"
        with open(log, "w") as out:
            process = subprocess.Popen(course.hub_command(), cwd=root / "hub", env=env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        h = Hub(f"http://127.0.0.1:{port}", token, root, process, log, env["EQCOURSE_DUMMY_PASSWORD"], timings)
        t = time.monotonic()
        while h.call("/hub/api/")[0] != 200:
            if process.poll() is not None or time.monotonic() - t > 60:
                pytest.fail(f"the hub did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.3)
        h.timings["hub start"] = time.monotonic() - t
        play(h)
        yield h
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the hub stops every user's server (cleanup_servers)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        problems = course.remove(root, users)
        assert not problems, problems


def play(h: Hub) -> None:
    """The whole assignment through the exchange; fills h.results."""
    t = time.monotonic()
    errors: list[str] = []

    def spawn(user: str) -> None:
        status, out = h.call(f"/hub/api/users/{user}/server", "POST")
        if status not in (201, 202):
            errors.append(f"spawn {user}: HTTP {status} {out!r}")

    threads = [threading.Thread(target=spawn, args=(u,)) for u in [TEACHER, *STUDENTS]]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for user in [TEACHER, *STUDENTS]:
        while not h.ok(f"/hub/api/users/{user}")["servers"].get("", {}).get("ready"):
            assert time.monotonic() - t < 180, f"{user}'s server did not become ready:\n{h.log.read_text()[-3000:]}"
            time.sleep(0.5)
    h.timings["four servers start"] = time.monotonic() - t

    t = time.monotonic()
    teacher = f"/user/{TEACHER}/formgrader/api"
    h.results["squat"] = as_user(IDLE, SQUAT.replace("COURSE", str(h.root / "exchange" / "eqcourse")))
    h.ok(f"{teacher}/assignment/{ASSIGNMENT}/assign", "POST")  # nbgrader generate_assignment
    h.ok(f"{teacher}/assignment/{ASSIGNMENT}/release", "POST")  # into the exchange's outbound/
    args = {"course_id": "eqcourse", "assignment_id": ASSIGNMENT}
    source = json.loads(SOURCE.read_text())
    raw = {nbg(c)["grade_id"]: "".join(c["source"]) for c in source["cells"] if nbg(c).get("solution")}
    solutions = {gid: without_markers(text) for gid, text in raw.items()}
    first = min(int(m.group(1)) for gid in solutions if (m := re.fullmatch(r"nb\d+_ex(\d+)_solution", gid)))
    wrong_id = next(gid for gid in solutions if gid.endswith(f"_ex{first}_solution"))
    h.results["wrong exercise tests"] = wrong_id.replace("_solution", "_tests")
    nb_path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    for student in STUDENTS:
        h.ok(f"/user/{student}/assignments/fetch", "POST", args)
        model = h.ok(f"/user/{student}/api/contents/{nb_path}?content=1")
        nb = model["content"]
        if student != IDLE:  # the idle student submits what they fetched
            for cell in nb["cells"]:
                gid = nbg(cell).get("grade_id")
                if gid in solutions:
                    cell["source"] = solutions[gid]
                    if student == WRONG and gid == wrong_id:
                        cell["source"] = course.assignments.wrong_answer(raw[gid])
            model = {"type": "notebook", "format": "json", "content": nb}
            h.ok(f"/user/{student}/api/contents/{nb_path}", "PUT", model)
        h.ok(f"/user/{student}/assignments/submit", "POST", args)
    h.timings["release, fetch, submit"] = time.monotonic() - t

    t = time.monotonic()
    attack_the_exchange(h)
    submit_hostile_notebook(h, solutions)
    h.timings["attacks on the exchange, hostile submission"] = time.monotonic() - t

    t = time.monotonic()
    h.results["collect log"] = h.ok(f"{teacher}/assignment/{ASSIGNMENT}/collect", "POST").get("log", "")
    h.results["collected at"] = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for student in STUDENTS:
        t1 = time.monotonic()
        h.ok(f"{teacher}/submission/{ASSIGNMENT}/{student}/autograde", "POST")
        h.timings[f"autograde {student} (sandboxed)"] = time.monotonic() - t1
    h.timings["collect, autograde x3"] = time.monotonic() - t
    t = time.monotonic()
    h.results["latencies"] = autograde_while_polling(h, HOSTILE)
    h.timings["autograde hostile"] = time.monotonic() - t
    time.sleep(2)
    h.results["survivors"] = [pid for pid in Path("/proc").iterdir() if pid.name.isdigit() and MARK in _cmdline(pid)]
    t = time.monotonic()
    h.ok(f"{teacher}/assignment/{ASSIGNMENT}/generate_feedback", "POST")
    h.ok(f"{teacher}/assignment/{ASSIGNMENT}/release_feedback", "POST")
    for student in STUDENTS:
        listing = h.ok(f"/user/{student}/assignments/fetch_feedback", "POST", args)
        h.results[f"feedback {student}"] = listing
    h.timings["feedback"] = time.monotonic() - t

    from nbgrader.api import Gradebook

    db = h.root / "home" / TEACHER / "course" / "gradebook.db"
    with Gradebook(f"sqlite:///{db}", "eqcourse") as gb:
        h.results["scores"] = {
            student: {g.name: float(g.score) for g in gb.find_submission_notebook(
                ASSIGNMENT, ASSIGNMENT, student).grades}
            for student in [*STUDENTS, HOSTILE]
        }
        h.results["grades"] = {
            student: {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in
                      gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades}
            for student in [*STUDENTS, HOSTILE]
        }
        h.results["timestamps"] = {s: gb.find_submission(ASSIGNMENT, s).timestamp for s in [*STUDENTS, HOSTILE]}
        h.results["comments"] = [c.comment for c in gb.find_submission_notebook(
            ASSIGNMENT, ASSIGNMENT, HOSTILE).comments if c.comment]


# --- the attacks of issue 18 -------------------------------------------------------------------------------------

SQUAT = r"""
import json, os
course = "COURSE"
out = {}
for name, action in [("make the course folder", lambda: os.mkdir(course)),
                     ("move it away", lambda: os.rename(course, course + "-old")),
                     ("make the assignment's outbound folder", lambda: os.mkdir(course + "/outbound/01_groups"))]:
    try:
        action(); out[name] = "done"
    except OSError as err:
        out[name] = type(err).__name__
print(json.dumps(out))
"""


def student_cli(h: Hub, user: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """`nbgrader <args>` run by `user` in a terminal of their own (their home, the classroom's settings)."""
    etc = h.root / "etc"
    env = {"JUPYTER_CONFIG_PATH": f"{etc / 'student'}:{etc / 'common'}", "PYTHONPATH": str(etc / "lib"),
           "EQCOURSE_EXCHANGE": str(h.root / "exchange"), "PATH": f"{h.root / 'venv' / 'bin'}:/usr/bin:/bin"}
    proc = course.run_as(user, [str(h.root / "venv" / "bin" / "python"), "-m", "nbgrader", *args],
                         env=env, cwd=h.root / "home" / user, capture_output=True, text=True, timeout=120)
    assert not check or proc.returncode == 0, f"{user}: nbgrader {' '.join(args)}:\n{proc.stdout}{proc.stderr}"[-3000:]
    return proc


def attack_the_exchange(h: Hub) -> None:
    """What a curious student does with inbound/ (each entry is named in h.results["planted"])."""
    inbound = h.root / "exchange" / "eqcourse" / "inbound"
    source = h.root / "home" / TEACHER / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    # bob submits his untouched notebook in alice's name (nbgrader's own command line)
    student_cli(h, IDLE, ["submit", ASSIGNMENT, "--course", "eqcourse", f"--student={SOLVER}"])
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    planted = {
        "link to the source": f"{IDLE}+{ASSIGNMENT}+{now}+link",
        "FIFO": f"{IDLE}+{ASSIGNMENT}+{now}+fifo",
        "oversized": f"{IDLE}+{ASSIGNMENT}+{now}+big",
        "malformed name": f"{IDLE}+{ASSIGNMENT}",
        "bad timestamp": f"{IDLE}+{ASSIGNMENT}+not-a-time+x",
        "future timestamp": f"{WRONG}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+future",
    }
    code = f"""
import json, os
inbound, planted, source = {str(inbound)!r}, {json.dumps(planted)}, {str(source)!r}
nb = "{ASSIGNMENT}.ipynb"
def folder(key):
    path = os.path.join(inbound, planted[key]); os.mkdir(path)
    with open(os.path.join(path, "timestamp.txt"), "w") as f:
        f.write("2000-01-01 00:00:00.000000 UTC")
    return path
os.symlink(source, os.path.join(folder("link to the source"), nb))
os.mkfifo(os.path.join(folder("FIFO"), nb))
with open(os.path.join(folder("oversized"), nb), "wb") as f:
    f.truncate(2**30)
os.mkdir(os.path.join(inbound, planted["malformed name"]))
os.mkdir(os.path.join(inbound, planted["bad timestamp"]))
print(json.dumps("planted"))
"""
    as_user(IDLE, code)
    # carol copies her own submission into a folder dated 2099, to win over any later resubmission
    (honest,) = [p for p in inbound.iterdir() if p.name.startswith(f"{WRONG}+") and p.stat().st_uid == _uid(WRONG)]
    as_user(WRONG, f"""
import json, os, shutil
dest = os.path.join({str(inbound)!r}, {planted["future timestamp"]!r}); os.mkdir(dest)
for name in ["{ASSIGNMENT}.ipynb", "submission_secret.txt"]:
    shutil.copyfile(os.path.join({str(honest)!r}, name), os.path.join(dest, name))
with open(os.path.join(dest, "timestamp.txt"), "w") as f:
    f.write("2099-01-01 00:00:00.000000 UTC")
print(json.dumps("planted"))
""")
    h.results["planted"] = planted


HOSTILE_CELL = r"""
import json, os, shutil, subprocess, urllib.request
MARK, TEACHER_HOME, HUB = "{mark}", "{home}", "{hub}"
report = {{"uid": os.getuid(), "env": sorted(os.environ)}}
try:
    shutil.copytree(TEACHER_HOME + "/course", "/tmp/stolen-" + MARK)
    report["steal"] = "copied"
except Exception as err:
    report["steal"] = repr(err)
for path in [TEACHER_HOME + "/.bashrc", TEACHER_HOME + "/.ipython/profile_default/startup/00-" + MARK + ".py",
             TEACHER_HOME + "/.jupyter/nbgrader_config.py"]:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write("\n# " + MARK + "\n")
        report[path] = "planted"
    except Exception as err:
        report[path] = repr(err)
try:
    request = urllib.request.Request(HUB + "/hub/api/users/{teacher}/tokens", method="POST",
                                     data=json.dumps({{"note": MARK}}).encode(),
                                     headers={{"Authorization": "token " + os.environ.get("JUPYTERHUB_API_TOKEN", "")}})
    urllib.request.urlopen(request, timeout=5)
    report["hub"] = "reached"
except Exception as err:
    report["hub"] = repr(err)
subprocess.Popen(["setsid", "sh", "-c", "sleep 900; echo " + MARK], start_new_session=True)
try:
    hog = bytearray(16 * 2**30)
    report["memory"] = "allocated 16 GiB"
except MemoryError:
    report["memory"] = "MemoryError"
try:
    with open(os.path.expanduser("~/big-" + MARK), "wb") as f:
        f.write(bytes(300 * 2**20))
    report["file"] = "wrote 300 MiB"
except OSError as err:
    report["file"] = repr(err)
print("ATTACK " + json.dumps(report))
"""
LOOP_CELL = "while True:  # never ends\n    pass"
GAMING_CELL = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])  # every later cell passes"


def submit_hostile_notebook(h: Hub, solutions: dict[str, str]) -> None:
    """The fourth student fetches on the command line, writes the hostile cells and submits."""
    student_cli(h, HOSTILE, ["fetch_assignment", ASSIGNMENT, "--course", "eqcourse"])
    order = sorted(gid for gid in solutions if re.fullmatch(r"nb\d+_ex\d+_solution", gid))
    cells = {order[0]: HOSTILE_CELL.format(mark=MARK, home=h.root / "home" / TEACHER, hub=h.url, teacher=TEACHER),
             order[1]: LOOP_CELL, order[-1]: GAMING_CELL}
    h.results["hostile cells"] = {gid: text.split("\n")[0] for gid, text in cells.items()}
    path = h.root / "home" / HOSTILE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    as_user(HOSTILE, f"""
import json
path, cells = {str(path)!r}, {json.dumps(cells)}
nb = json.load(open(path))
for cell in nb["cells"]:
    gid = cell.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id")
    if gid in cells:
        cell["source"] = cells[gid]
json.dump(nb, open(path, "w"))
print(json.dumps("written"))
""")
    student_cli(h, HOSTILE, ["submit", ASSIGNMENT, "--course", "eqcourse"])


def autograde_while_polling(h: Hub, student: str) -> list[float]:
    """Autograde `student` through the formgrader while asking the instructor's server for its status."""
    done = threading.Event()
    latencies: list[float] = []
    outcome: list[object] = []

    def grade() -> None:
        try:
            outcome.append(h.ok(f"/user/{TEACHER}/formgrader/api/submission/{ASSIGNMENT}/{student}/autograde", "POST"))
        except AssertionError as err:
            outcome.append(err)
        finally:
            done.set()

    thread = threading.Thread(target=grade)
    thread.start()
    while not done.is_set():
        t = time.monotonic()
        status, _ = h.call(f"/user/{TEACHER}/api/status", timeout=60)
        latencies.append(time.monotonic() - t if status == 200 else float("inf"))
        done.wait(0.5)
    thread.join()
    assert not isinstance(outcome[0], AssertionError), outcome[0]
    return latencies


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def _cmdline(pid: Path) -> str:
    try:
        return (pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""



def test_scores_full_zero_and_one_exercise_lost(hub):
    points = autograded_points(json.loads(SOURCE.read_text()))
    assert points and sum(points.values()) > 0, "the source notebook has no autograded test cells"
    scores = hub.results["scores"]
    solved = {gid: scores[SOLVER][gid] for gid in points}
    idle = {gid: scores[IDLE][gid] for gid in points}
    wrong = {gid: scores[WRONG][gid] for gid in points}
    lost = hub.results["wrong exercise tests"]
    print(f"\nscores (autograded test cells): solved {sum(solved.values())}, untouched {sum(idle.values())}, "
          f"one wrong {sum(wrong.values())} of {sum(points.values())} (wrong exercise: {lost})")
    assert solved == points, f"the solved submission lost points: {solved} vs {points}"
    assert idle == dict.fromkeys(points, 0.0), f"the untouched submission scored: {idle}"
    assert wrong == {gid: (0.0 if gid == lost else p) for gid, p in points.items()}, wrong


def test_students_fetched_their_feedback(hub):
    for student in STUDENTS:
        status, model = hub.call(f"/user/{student}/api/contents/{ASSIGNMENT}/feedback")
        assert status == 200, f"{student} has no feedback folder (HTTP {status})"
        (stamp,) = [m["name"] for m in model["content"] if m["type"] == "directory"]
        status, html = hub.call(f"/user/{student}/api/contents/{ASSIGNMENT}/feedback/{quote(stamp)}/{ASSIGNMENT}.html")
        assert status == 200 and "Score" in html["content"], f"{student}'s feedback HTML is missing or empty"


def submission_of(hub: Hub, student: str) -> Path:
    inbound = hub.root / "exchange" / "eqcourse" / "inbound"
    (folder,) = [p for p in inbound.iterdir() if p.name.startswith(f"{student}+{ASSIGNMENT}+")
                 and p.stat().st_uid == _uid(student)]
    return folder / f"{ASSIGNMENT}.ipynb"


def test_a_student_cannot_read_another_students_work(hub):
    alice_home = hub.root / "home" / SOLVER
    paths = [submission_of(hub, SOLVER), alice_home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
             hub.root / "exchange" / "eqcourse" / "inbound"]
    got = try_read(IDLE, paths[:2])
    assert got == {str(p): "denied" for p in paths[:2]}, got
    listing = as_user(IDLE, f"import os, json\ntry:\n    os.listdir({str(paths[2])!r}); r = 'listed'\n"
                            "except PermissionError:\n    r = 'denied'\nprint(json.dumps(r))")
    assert listing == "denied", "a student can list the inbound folder (everyone's submissions)"
    assert try_read(SOLVER, paths[:1]) == {str(paths[0]): "read"}, "the submitter cannot read their own submission"
    token = hub.ok(f"/hub/api/users/{IDLE}/tokens", "POST", {"note": "cross-user check"})["token"]
    status, _ = hub.call(f"/user/{SOLVER}/api/contents/{ASSIGNMENT}", token=token)
    assert status in (302, 403, 404), f"{IDLE}'s token reached {SOLVER}'s server: HTTP {status}"
    status, _ = hub.call(f"/user/{IDLE}/api/contents/{ASSIGNMENT}", token=token)
    assert status == 200, f"{IDLE}'s token did not even reach their own server: HTTP {status}"


def test_a_student_cannot_read_the_instructors_sources_gradebook_or_hidden_tests(hub):
    course_dir = hub.root / "home" / TEACHER / "course"
    paths = [course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", course_dir / "gradebook.db",
             course_dir / "autograded" / SOLVER / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
             hub.root / "hub" / "jupyterhub.sqlite"]
    assert all(p.exists() for p in paths), [p for p in paths if not p.exists()]
    got = try_read(WRONG, paths)
    assert got == {str(p): "denied" for p in paths}, got
    # everything a student can read in the exchange holds no hidden test and no solution
    readable = as_user(WRONG, "import os, json\nout = {}\n"
                              f"for d, _, fs in os.walk({str(hub.root / 'exchange')!r}):\n"
                              "    for f in fs:\n"
                              "        p = os.path.join(d, f)\n"
                              "        try:\n            out[p] = open(p, errors='replace').read()\n"
                              "        except PermissionError:\n            pass\n"
                              "print(json.dumps(out))")
    assert any(p.endswith(f"outbound/{ASSIGNMENT}/{ASSIGNMENT}.ipynb") for p in readable), sorted(readable)
    secrets_ = student_env.secret_lines()
    assert student_env.find_secrets(SOURCE.read_text(), secrets_), "the secret scan finds nothing in the source"
    leaks = {p: hits for p, text in readable.items() if (hits := student_env.find_secrets(text, secrets_))}
    assert not leaks, f"a student can read solutions or hidden tests: {leaks}"
    # nor can a student open the instructor tools: the formgrader is not even loaded in their server
    assert hub.call(f"/user/{WRONG}/formgrader/api/status")[0] == 404
    assert hub.call(f"/user/{TEACHER}/formgrader/api/status")[0] == 200


def test_a_student_cannot_overwrite_a_released_assignment(hub):
    released = hub.root / "exchange" / "eqcourse" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    before = released.read_bytes()
    code = (
        "import json, os\nresults = {}\n"
        f"target = {str(released)!r}\nfolder = os.path.dirname(target)\n"
        "for name, action in [('write', lambda: open(target, 'a').write('x')),\n"
        "                     ('delete', lambda: os.remove(target)),\n"
        "                     ('rename', lambda: os.rename(target, target + '.old')),\n"
        "                     ('add', lambda: open(os.path.join(folder, 'extra.ipynb'), 'w')),\n"
        "                     ('move folder', lambda: os.rename(folder, folder + '_mine'))]:\n"
        "    try:\n        action(); results[name] = 'done'\n"
        "    except PermissionError:\n        results[name] = 'denied'\n"
        "print(json.dumps(results))"
    )
    got = as_user(WRONG, code)
    assert set(got.values()) == {"denied"}, got
    assert released.read_bytes() == before


def test_attack_forged_student_does_not_replace_the_victims_submission(hub):
    """bob ran `nbgrader submit --student eqct-alice` after alice: collect skipped it, alice keeps her score."""
    inbound = hub.root / "exchange" / "eqcourse" / "inbound"
    forged = [p for p in inbound.iterdir() if p.name.startswith(f"{SOLVER}+") and p.stat().st_uid == _uid(IDLE)]
    assert forged, "bob's submission in alice's name is not in inbound/ (the attack did not run)"
    assert f"skipped inbound/{forged[0].name}: it claims to be {SOLVER}'s but is owned by {IDLE}" in \
        hub.results["collect log"], hub.results["collect log"][-3000:]
    points = autograded_points(json.loads(SOURCE.read_text()))
    alice = {gid: hub.results["scores"][SOLVER][gid] for gid in points}
    assert alice == points, f"alice's score changed: the forged submission was collected ({alice})"


def test_attack_links_fifos_oversized_and_malformed_entries_are_skipped(hub):
    """bob's hand-made inbound/ entries: each skipped and reported, nobody's collect failed, no source leaked."""
    log = hub.results["collect log"]
    why = {"link to the source": "is a symbolic link", "FIFO": "is a FIFO", "oversized": "more than",
           "malformed name": "not <student>+<assignment>", "bad timestamp": "unreadable timestamp"}
    for attack, name in hub.results["planted"].items():
        if attack in why:
            assert f"skipped inbound/{name}: " in log and why[attack] in log, f"{attack}: not reported\n{log[-3000:]}"
    submitted = hub.root / "home" / TEACHER / "course" / "submitted" / IDLE / ASSIGNMENT
    secrets_ = student_env.secret_lines()
    for path in submitted.rglob("*"):
        assert not path.is_symlink(), path
        if path.is_file():
            assert not student_env.find_secrets(path.read_text(errors="replace"), secrets_), \
                f"{path}: the instructor's source came back in bob's submission"
    assert sum(hub.results["scores"][IDLE].values()) == 0, hub.results["scores"][IDLE]


def test_attack_future_timestamp_is_not_believed(hub):
    """carol's copy dated 2099 is collected with the time its files were written, not 2099."""
    stamp = hub.results["timestamps"][WRONG]
    assert stamp <= hub.results["collected at"] + datetime.timedelta(seconds=5), f"carol's submission is dated {stamp}"


def test_attack_squatting_the_course_folder(hub):
    """Before the first release a student tried to take exchange/eqcourse/: it was already the instructor's."""
    got = hub.results["squat"]
    assert all(result != "done" for result in got.values()), got
    course_dir = hub.root / "exchange" / "eqcourse"
    assert course_dir.stat().st_uid == _uid(TEACHER) and not course_dir.is_symlink()
    assert (course_dir / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_uid == _uid(TEACHER)


def hostile_report(hub) -> dict:
    nb = json.loads((hub.root / "home" / TEACHER / "course" / "autograded" / HOSTILE / ASSIGNMENT /
                     f"{ASSIGNMENT}.ipynb").read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if text.startswith("ATTACK "):
                return json.loads(text.split("\n")[0][len("ATTACK "):])
    raise AssertionError("the hostile cell printed no report: did it run?")


def test_attack_hostile_submission_steals_and_plants_nothing(hub):
    """The hostile cell ran (its report is in the autograded notebook) and left nothing outside the sandbox."""
    report = hostile_report(hub)
    print(f"\nhostile cell, as seen from inside the sandbox: {report}")
    assert report["uid"] == _uid(GRADER), report
    assert not any(Path("/tmp").glob(f"stolen-{MARK}*")), "the course was copied to /tmp"
    home = hub.root / "home" / TEACHER
    for path in [home / ".bashrc", home / ".ipython" / "profile_default" / "startup" / f"00-{MARK}.py",
                 home / ".jupyter" / "nbgrader_config.py"]:
        assert not path.exists() or MARK not in path.read_text(errors="replace"), f"{path} was planted"
    leaked = [p for p in hub.root.rglob(f"*{MARK}*")]
    assert not leaked, f"the hostile submission left files: {leaked}"
    assert "JUPYTERHUB_API_TOKEN" not in report["env"] and not any("TOKEN" in k for k in report["env"]), report["env"]
    tokens = hub.ok(f"/hub/api/users/{TEACHER}/tokens")
    assert not [t for t in tokens.get("api_tokens", tokens if isinstance(tokens, list) else [])
                if MARK in str(t.get("note"))], "the hostile cell made a token for the instructor"
    assert report["hub"] != "reached", report


def test_attack_hostile_submission_is_limited_and_leaves_no_process(hub):
    """Memory, file size and time were limited; its setsid process died with the sandbox; the server answered."""
    report = hostile_report(hub)
    assert report["memory"] == "MemoryError", report
    assert "File too large" in report["file"] or "No space" in report["file"], report
    assert not hub.results["survivors"], [_cmdline(p) for p in hub.results["survivors"]]
    latencies = hub.results["latencies"]
    print(f"\ninstructor's server during the hostile autograde: {len(latencies)} answers, slowest "
          f"{max(latencies):.2f} s, autograde took {hub.timings['autograde hostile']:.0f} s")
    assert len(latencies) >= 5 and max(latencies) < 10, latencies
    nb = json.loads((hub.root / "home" / TEACHER / "course" / "autograded" / HOSTILE / ASSIGNMENT /
                     f"{ASSIGNMENT}.ipynb").read_text())
    loop = [c for c in nb["cells"] if "".join(c["source"]).startswith("while True")]
    assert loop and any(o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt") for o in loop[0]["outputs"]), \
        "the endless cell was not stopped by the cell timeout"


def test_attack_gaming_the_tests_is_flagged_and_gets_no_credit(hub):
    """The IPython input transformer made the last test pass inside the kernel; the grader zeroed and flagged it."""
    grades = hub.results["grades"][HOSTILE]
    points = autograded_points(json.loads(SOURCE.read_text()))
    last = max(points)
    auto, manual, flagged = grades[last]
    assert auto == points[last], f"the gaming cell did not work in the kernel (auto score {auto}): this proves nothing"
    assert manual == 0 and flagged, grades
    assert sum(hub.results["scores"][HOSTILE].values()) < sum(points.values())
    assert any("FLAGGED FOR REVIEW" in c for c in hub.results["comments"]), hub.results["comments"]
    # honest work is never flagged (the written answers always need a manual grade: not counted)
    for student in STUDENTS:
        flags = {gid: hub.results["grades"][student][gid][2] for gid in points}
        assert not any(flags.values()), f"{student}: {flags}"


def test_feedback_shows_no_hidden_test(hub):
    """Every student's returned feedback names the tests and their messages, but not one hidden-test line."""
    hidden = {where: lines for where, lines in student_env.secret_lines().items()
              if where.startswith(f"{ASSIGNMENT}.ipynb") and "(hidden tests)" in where}
    assert hidden, "the source has no hidden tests: nothing to check"
    autograded = (hub.root / "home" / TEACHER / "course" / "autograded" / SOLVER / ASSIGNMENT /
                  f"{ASSIGNMENT}.ipynb").read_text()
    assert student_env.find_secrets(autograded, hidden), "the hidden tests are not even in the autograded notebook"
    visible = [line.strip() for c in json.loads(SOURCE.read_text())["cells"] if nbg(c).get("grade")
               and not nbg(c).get("solution") for line in "".join(c["source"]).split("### BEGIN HIDDEN")[0].splitlines()
               if len(line.strip()) > 20]
    for student in [*STUDENTS, HOSTILE]:
        (html,) = (hub.root / "home" / TEACHER / "course" / "feedback" / student / ASSIGNMENT).glob("*.html")
        text = html_to_text(html.read_text())
        assert any(line in text for line in visible), f"{student}'s feedback lost the visible tests too"
        leaks = student_env.find_secrets(text, hidden)
        assert not leaks, f"{student}'s feedback shows hidden tests: {leaks}"
        assert "Traceback (most recent call last)" not in text and "Cell In[" not in text, \
            f"{student}'s feedback shows a traceback"


def html_to_text(html: str) -> str:
    """The text of a feedback page: tags removed, entities decoded (code lines become whole again)."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def test_login_uses_generated_system_passwords(hub):
    """`make classroom` gives each account without a password a generated one, once; PAM checks it."""
    import pamela

    new = course.set_passwords([HOSTILE])
    assert list(new) == [HOSTILE] and len(new[HOSTILE]) >= 12, new
    assert course.set_passwords([HOSTILE]) == {}, "a second run changed the password again"
    pamela.authenticate(HOSTILE, new[HOSTILE], service="login")
    with pytest.raises(pamela.PAMError):
        pamela.authenticate(HOSTILE, "not-the-password", service="login")



def test_logged_out_browser_reaches_only_the_login_page(hub):
    for path in [f"/user/{SOLVER}/lab", f"/user/{TEACHER}/formgrader", "/hub/admin", "/hub/home",
                 f"/user/{SOLVER}/api/contents/{ASSIGNMENT}"]:
        status, _ = hub.call(path, token=None)
        assert status in (302, 403), f"{path} without login: HTTP {status}"
    assert hub.call("/hub/api/users", token=None)[0] == 403
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `make chromium`", pytrace=False)
    from playwright.sync_api import sync_playwright

    t = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context().new_page()
            for path in [f"/user/{SOLVER}/lab", f"/user/{TEACHER}/formgrader", "/hub/admin",
                         f"/user/{SOLVER}/files/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"]:
                page.goto(hub.url + path)
                assert page.url.split("?")[0] == f"{hub.url}/hub/login", f"{path} led to {page.url}"
                assert page.locator("input[name=username]").count() == 1
            assert "TESTING ONLY" in page.content(), "the dummy login does not say that it is for testing only"
            # a wrong password gets nowhere
            page.fill("input[name=username]", SOLVER)
            page.fill("input[name=password]", "not-the-password")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state()
            assert "/hub/login" in page.url, page.url
        finally:
            browser.close()
    hub.timings["browser: logged out"] = time.monotonic() - t


def test_student_logs_in_and_sees_the_assignment_in_the_assignments_tab(hub):
    from playwright.sync_api import sync_playwright

    t = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{hub.url}/hub/login")
            page.fill("input[name=username]", WRONG)
            page.fill("input[name=password]", hub.password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url(re.compile(rf".*/user/{WRONG}/lab.*"), timeout=60_000)
            page.locator("#jp-MainMenu").wait_for(timeout=60_000)
            menu = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Nbgrader$"))
            menu.click()
            labels = page.locator(".lm-Menu-itemLabel").all_inner_texts()
            assert "Formgrader" not in labels, f"a student sees the instructor's formgrader: {labels}"
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Assignment List$")).click()
            panel = page.locator("#released_assignments_list, .assignment-list, #submitted_assignments_list").first
            panel.wait_for(timeout=30_000)
            page.get_by_text(ASSIGNMENT).first.wait_for(timeout=30_000)
            text = page.locator("body").inner_text()
            SCREENSHOTS.mkdir(exist_ok=True)
            shot = SCREENSHOTS / "student-assignments-tab.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert ASSIGNMENT in text and "eqcourse" in text, text[:2000]
    assert "Submitted assignments" in text and "view feedback" in text, f"no submission with feedback:\n{text[:2000]}"
    hub.timings["browser: login + Assignments tab"] = time.monotonic() - t
    print("\nclassroom timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in hub.timings.items()))
    peaks = {}
    for user in [TEACHER, *STUDENTS]:
        pid = hub.ok(f"/hub/api/users/{user}")["servers"][""]["state"]["pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        peaks[user] = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    print("single-user server peak memory (MiB, VmHWM, kernels not included): "
          + ", ".join(f"{u} {m:.0f}" for u, m in peaks.items()))
