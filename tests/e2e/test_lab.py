"""The course as a student meets it: JupyterLab in a real browser (Debian's Chromium via Playwright).

For each notebook: open it in JupyterLab, Run All from the Run menu, wait for the kernel to go idle,
and fail on any error output, a cell that did not run, or a widget that did not render. Notebook 04's
rotation explorer must render as live widgets and redraw when its slider moves. The kernel's peak
resident memory (kernel and its children) is measured while it runs and must stay <= 1 GB (Binder
allows 2 GB). A screenshot of each notebook goes to tests/e2e/screenshots/.

Run with `make e2e` (part of `make test`; as root it runs with the network cut).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO, SCREENSHOTS, skip_or_fail

if os.environ.get("EQCOURSE_E2E") != "1":
    pytest.skip("the browser walkthrough runs in `make e2e` (or set EQCOURSE_E2E=1)", allow_module_level=True)

psutil = pytest.importorskip("psutil")

NOTEBOOK_DIR = Path(os.environ.get("EQCOURSE_E2E_NOTEBOOKS", REPO / "notebooks"))
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
WIDGET_NOTEBOOKS = ("04_",)  # notebooks whose rotation explorer must render and respond
MEMORY_LIMIT_MB = 1024
RUN_TIMEOUT_S = float(os.environ.get("EQCOURSE_E2E_TIMEOUT", "240"))

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
PLAIN = '.jp-OutputArea-output[data-mime-type="text/plain"]'
# What a widget looks like when the front end could not render it: its Python repr as plain text.
WIDGET_REPR = re.compile(
    r"^\s*(?:IntSlider|FloatSlider|SelectionSlider|IntRangeSlider|Dropdown|ToggleButtons|RadioButtons|Checkbox|"
    r"Button|Play|Output|Image|Label|HTML|VBox|HBox|Box|GridBox|Tab|Accordion|interactive)\((?:value|children|"
    r"description|options|layout|outputs)=",
    re.MULTILINE,
)
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(?:Error|Exception)\b", re.MULTILINE)


class PeakMemory(threading.Thread):
    """Samples the resident memory of a process and all its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        """Stop sampling; return the peak in bytes (at least the kernel's own high-water mark)."""
        self._stop_event.set()
        self.join(timeout=5)
        try:  # the kernel's exact peak RSS as the kernel saw it (VmHWM), in case sampling missed a spike
            status = Path(f"/proc/{self.pid}/status").read_text()
            hwm = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024
        except (OSError, AttributeError):
            hwm = 0
        return max(self.peak, hwm)


def _kernel_for(lab, path: str, timeout: float = 90) -> dict:
    """The kernel of the session JupyterLab opened for `path`, once it is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for session in lab.api("/api/sessions"):
            if session.get("path") == path and session.get("kernel"):
                kernel = lab.api(f"/api/kernels/{session['kernel']['id']}")
                if kernel["execution_state"] == "idle":
                    return {"session": session["id"], **kernel}
        time.sleep(0.5)
    pytest.fail(f"no idle kernel for {path} within {timeout:.0f} s; server log:\n{lab.log.read_text()[-3000:]}")


def _kernel_pid(lab, kernel_id: str) -> int:
    for proc in psutil.Process(lab.process.pid).children(recursive=True):
        try:
            if any(f"kernel-{kernel_id}.json" in arg for arg in proc.cmdline()):
                return proc.pid
        except psutil.NoSuchProcess:
            continue
    pytest.fail(f"cannot find the process of kernel {kernel_id}")


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(
        ".jp-Notebook .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())"
    )


def _wait_until_run(page, lab, kernel_id: str) -> None:
    """Wait until the kernel is idle and no cell is queued or running, three polls in a row."""
    deadline, calm = time.monotonic() + RUN_TIMEOUT_S, 0
    while calm < 3:
        if time.monotonic() > deadline:
            pytest.fail(f"Run All did not finish within {RUN_TIMEOUT_S:.0f} s; prompts: {_prompts(page)}")
        state = lab.api(f"/api/kernels/{kernel_id}")["execution_state"]
        if state == "dead":
            pytest.fail("the kernel died while running the notebook (out of memory?)")
        prompts = _prompts(page)
        started = any(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        calm = calm + 1 if state == "idle" and started and not any("*" in p for p in prompts) else 0
        time.sleep(0.4)


def _output_fingerprint(cell) -> str:
    """What the widget's cell shows, without the slider and its readout."""
    return cell.evaluate(
        """cell => {
            const area = (cell.querySelector('.jp-Cell-outputArea') || cell).cloneNode(true);
            area.querySelectorAll('.widget-slider, .widget-readout').forEach(e => e.remove());
            const images = Array.from(area.querySelectorAll('img')).map(i => i.getAttribute('src'));
            const svgs = Array.from(area.querySelectorAll('svg')).map(s => s.outerHTML);
            return [area.textContent, ...images, ...svgs].join('\\n');
        }"""
    )


def _check_widget_responds(page) -> str:
    """The first slider of the explorer moves by keyboard and the explorer's output changes."""
    slider = page.locator(".jp-Notebook .widget-slider").first
    slider.scroll_into_view_if_needed()
    cell = slider.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell ')][1]")
    readout = slider.locator(".widget-readout")
    before_value, before = readout.inner_text(), _output_fingerprint(cell)
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if readout.inner_text() != before_value and _output_fingerprint(cell) != before:
            return f"slider {before_value!r} -> {readout.inner_text()!r}, output redrawn"
        time.sleep(0.25)
    assert readout.inner_text() != before_value, "the slider did not move when ArrowRight was pressed on it"
    pytest.fail(f"the slider moved ({before_value!r} -> {readout.inner_text()!r}) but the explorer did not redraw")


def _check_outputs(page, notebook: Path) -> list[str]:
    """Fail on errors, cells that did not run, and widgets shown as text; return stderr warnings."""
    name, problems = notebook.name, []
    prompts = _prompts(page)
    cells = json.loads(notebook.read_text())["cells"]
    n_code = sum(c["cell_type"] == "code" for c in cells)
    if len(prompts) != n_code:
        problems.append(f"the page shows {len(prompts)} code cells, the notebook has {n_code}")
    not_run = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
    if not_run:
        problems.append(f"code cells {not_run} did not run (prompts {[prompts[i] for i in not_run]})")
    stderr = page.locator(STDERR).all_inner_texts()
    errors = [text for text in stderr if ERROR_TEXT.search(text)]
    problems += [f"error output:\n{text[-1500:]}" for text in errors]
    body = page.locator(".jp-Notebook").inner_text()
    if "Error displaying widget" in body:
        problems.append("a widget shows 'Error displaying widget'")
    fallbacks = [t for t in page.locator(PLAIN).all_inner_texts() if WIDGET_REPR.search(t)]
    problems += [f"widget shown as plain text instead of rendered: {t[:200]!r}" for t in fallbacks]
    if problems:
        pytest.fail(f"{name}:\n" + "\n".join(problems), pytrace=False)
    return [text for text in stderr if text not in errors]


def _screenshot(page, stem: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{stem}.png"
    page.screenshot(path=str(shot))
    return shot


@pytest.mark.parametrize("notebook", NOTEBOOKS or [None], ids=[p.stem for p in NOTEBOOKS] or ["no-notebooks"])
def test_notebook_runs_in_jupyterlab(notebook: Path | None, lab, browser_context, report) -> None:
    if notebook is None:
        skip_or_fail(f"no notebooks matching 0*.ipynb in {NOTEBOOK_DIR}")
    name, path = notebook.name, f"notebooks/{notebook.name}"
    page = browser_context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    kernel = None
    try:
        # a workspace of its own per notebook, so JupyterLab restores no tab of an earlier test
        page.goto(f"{lab.url}/lab/workspaces/e2e-{notebook.stem}/tree/{path}?token={lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
        kernel = _kernel_for(lab, path)
        memory = PeakMemory(_kernel_pid(lab, kernel["id"]))
        memory.start()
        start = time.monotonic()
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        _wait_until_run(page, lab, kernel["id"])
        seconds = time.monotonic() - start

        warnings = _check_outputs(page, notebook)
        widgets = page.locator(".jp-Notebook .jupyter-widgets").count()
        detail = ""
        if name.startswith(WIDGET_NOTEBOOKS):
            assert widgets > 0, f"{name}: the rotation explorer rendered no widget (.jupyter-widgets)"
            assert page.locator(".jp-Notebook .widget-slider").count() > 0, f"{name}: the explorer has no slider"
            detail = _check_widget_responds(page)
            _check_outputs(page, notebook)  # the redraw raised nothing either
            page.locator(".jp-Notebook .widget-slider").first.scroll_into_view_if_needed()
        else:
            figure = page.locator(".jp-Notebook .jp-OutputArea-output img")
            if figure.count():
                figure.first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        peak_mb = memory.stop() / 2**20
        shot = _screenshot(page, notebook.stem)
        shot_rel = shot.relative_to(REPO) if shot.is_relative_to(REPO) else shot
        report.rows.append({"notebook": name, "seconds": seconds, "peak_mb": peak_mb, "screenshot": str(shot_rel)})
        print(f"{name}: Run All {seconds:.1f} s, kernel peak RSS {peak_mb:.0f} MiB, {widgets} widget(s) {detail}")
        print(f"screenshot: {shot}")
        for text in warnings:
            print(f"{name}: stderr (not an error): {text[:300]}")
        for text in page_errors:
            print(f"{name}: browser page error: {text[:300]}")
        assert peak_mb <= MEMORY_LIMIT_MB, f"{name}: kernel peak memory {peak_mb:.0f} MiB > {MEMORY_LIMIT_MB} MiB"
    except BaseException:
        try:
            print(f"screenshot of the failure: {_screenshot(page, notebook.stem + '-failed')}")
        except Exception as exc:  # the page itself may be gone; keep the original failure
            print(f"no screenshot of the failure: {exc}")
        raise
    finally:
        page.close()
        if kernel is not None:  # shut the kernel down before the next notebook starts
            lab.api(f"/api/sessions/{kernel['session']}", method="DELETE")
