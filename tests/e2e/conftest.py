"""Fixtures for the real-browser walkthrough: a JupyterLab server and Debian's Chromium.

The walkthrough runs in `make e2e` (part of `make test`), which sets EQCOURSE_E2E=1. A plain
`pytest tests` skips it with one line saying so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("EQCOURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
ENABLE_HINT = (
    "install Debian's Chromium (`sudo apt-get install -y chromium`, or run `make e2e` as root, which installs it), "
    "or point EQCOURSE_CHROMIUM at a Chromium binary"
)


def e2e_required() -> bool:
    """True where a skipped walkthrough is an error: CI (CI=true) and EQCOURSE_E2E_REQUIRED=1."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("EQCOURSE_E2E_REQUIRED") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, or fail where the walkthrough is required (CI)."""
    if e2e_required():
        pytest.fail(f"the browser walkthrough is required here (CI) but cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Lab:
    """A running JupyterLab server serving a temporary copy of the notebooks."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def api(self, path: str, method: str = "GET") -> object:
        """Call the Jupyter server REST API and return the decoded JSON (None for empty bodies)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


@dataclass
class Report:
    """What the walkthrough measured, printed at the end of the run."""

    rows: list[dict] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings: Path) -> None:
    """Fresh JupyterLab user settings: every cell in the DOM, no news or update checks."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Path of Debian's Chromium; skips (fails in CI) when it is absent."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail(f"Chromium not found at {CHROMIUM}: {ENABLE_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the Python package `playwright` is missing: run `make venv` (it is in requirements.txt)")
    return CHROMIUM


REPORT_KEY = pytest.StashKey[Report]()


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> Report:
    """Rows (notebook, seconds, peak memory, screenshot) for the summary at the end of the run."""
    rep = Report()
    request.config.stash[REPORT_KEY] = rep
    return rep


@pytest.fixture(scope="session")
def lab(chromium: Path) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with a token, serving a temporary copy of `notebooks/`.

    Settings, workspaces, runtime files and IPython's profile live in the same temporary
    directory, so the run neither reads nor changes the user's Jupyter state, and outputs
    the notebooks produce never land in the repository.
    """
    source = Path(os.environ.get("EQCOURSE_E2E_NOTEBOOKS", REPO / "notebooks"))
    tmp = Path(tempfile.mkdtemp(prefix="eqcourse-e2e-"))
    root = tmp / "course"
    shutil.copytree(source, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _write_settings(tmp / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the inline backend a student gets, not the Agg of the nbval runs
    env.update(
        EQCOURSE_FAST=env.get("EQCOURSE_FAST", "1"),
        EQCOURSE_PROGRESS=env.get("EQCOURSE_PROGRESS", "0"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
    )
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "jupyterlab.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, process=process, log=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 90 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_context(chromium: Path) -> Iterator[object]:
    """A headless Chromium with a fresh profile, driven by Playwright (no browser is downloaded)."""
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="eqcourse-chromium-"))
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rep = config.stash.get(REPORT_KEY, None)
    if not rep or not rep.rows:
        return
    tr = terminalreporter
    tr.section("JupyterLab walkthrough (Chromium)")
    tr.write_line(f"{'notebook':<32} {'run all':>8} {'peak RSS':>9}  screenshot")
    for row in rep.rows:
        tr.write_line(f"{row['notebook']:<32} {row['seconds']:>7.1f}s {row['peak_mb']:>6.0f} MiB {row['screenshot']}")
