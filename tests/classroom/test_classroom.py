"""The classroom for real: JupyterHub, system users and nbgrader's exchange, played by four people.

`make classroom-test` (part of `make test`, as root) runs this; a plain `pytest tests` skips it. It
creates an instructor and three students as system users, starts the hub of `classroom/`, and plays
`01_groups` through the exchange. Everything a user does happens in that user's own single-user
server (as that user's uid), reached through the hub with an API token: the instructor's formgrader
API generates, releases, collects, autogrades and returns feedback; each student's nbgrader
Assignments API fetches, submits and fetches feedback. One student solves the assignment (the
source's solution cells), one submits it untouched, one gets one exercise wrong. Then students try
to read what is not theirs (as their system user) and a logged-out browser tries the hub's pages.
Expected scores come from the source notebook's nbgrader metadata, not from a table here.
"""

from __future__ import annotations

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
    users = [TEACHER, *STUDENTS]
    course.remove(None, users)  # leftovers of an interrupted run (these names are the test's own)
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="eqcourse-classroom-", dir="/tmp"))
    root.chmod(0o755)
    HUB_ROOT[:] = [root]
    process = None
    try:
        course.prepare(root, TEACHER, STUDENTS)
        timings = {"prepare (wheel, venv, users)": time.monotonic() - t0}
        port = free_port()
        token = secrets.token_hex(32)
        env = course.hub_env(root, TEACHER, STUDENTS, port)
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
    h.ok(f"{teacher}/assignment/{ASSIGNMENT}/collect", "POST")
    for student in STUDENTS:
        h.ok(f"{teacher}/submission/{ASSIGNMENT}/{student}/autograde", "POST")
    h.timings["collect, autograde x3"] = time.monotonic() - t
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
            for student in STUDENTS
        }


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
    (folder,) = [p for p in inbound.iterdir() if p.name.startswith(f"{student}+{ASSIGNMENT}+")]
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
