"""The guard behind "every notebook passes offline": `make notebooks` runs kernels with the network cut.

A throwaway notebook (never one of the course's) records its kernel's network namespace and then
tries to download from PyPI. Under `make notebooks` the download must fail, in a namespace other
than this test's. Quick (one small kernel), so it runs with the unit tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_make_notebooks_runs_without_network(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        reason = "notebooks run with the network cut only as root with `unshare` (util-linux)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must prove the notebooks offline, but {reason}")
        pytest.skip(reason)
    if not shutil.which("make"):
        pytest.skip("`make` is not installed")
    marker = tmp_path / "netns"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"import os\nopen({str(marker)!r}, 'w').write(os.readlink('/proc/self/ns/net'))"),
        nbformat.v4.new_code_cell("import urllib.request\nurllib.request.urlopen('https://pypi.org', timeout=10)"),
    ]
    notebook = tmp_path / "download.ipynb"
    nbformat.write(nb, notebook)

    result = subprocess.run(
        ["make", "-s", "-C", str(REPO), "notebooks", f"NOTEBOOKS={notebook}"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = result.stdout + result.stderr
    assert marker.exists(), f"the kernel never ran the first cell:\n{out[-3000:]}"
    kernel_netns, own_netns = marker.read_text(), os.readlink("/proc/self/ns/net")
    assert kernel_netns != own_netns, f"the kernel shares this test's network namespace ({own_netns}): not offline"
    assert result.returncode != 0, f"the download from PyPI succeeded under `make notebooks`:\n{out[-3000:]}"
    offline = "URLError" in out or "urlopen error" in out
    assert offline, f"the notebook failed, but not for lack of network:\n{out[-3000:]}"
