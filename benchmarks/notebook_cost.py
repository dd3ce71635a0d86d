"""What running each notebook costs: CPU time, wall time and the kernel's peak memory.

    python benchmarks/notebook_cost.py [--notebooks 01 05] [--modes normal fast] [--threads 1]

Each notebook is executed top to bottom in a fresh kernel (``nbclient``, as ``jupyter nbconvert
--execute`` does; the notebooks in ``notebooks/`` are not touched) with the shipped checkpoints,
once in the normal mode and once with ``EQCOURSE_FAST=1``, on ``--threads`` threads
(``OMP_NUM_THREADS``; the classroom runs kernels on one) and with the kernel's own inline
matplotlib backend, as in JupyterLab. One cell is added at the end, in memory only: it reads the
kernel's own counters before the kernel is shut down. The script prints a Markdown table:

* **CPU time**: the kernel's user + system seconds, which is what the run takes on an idle core,
  however busy the machine is;
* **wall time**: seconds of the whole run (starting the kernel, every cell, shutting it down), which
  a busy machine stretches (the load average is printed next to the table);
* **peak memory**: the kernel's peak resident set (``VmHWM``) while the notebook runs, in MiB, the
  number the browser walkthrough (``make e2e``) checks. Not included: a short spike when the
  kernel exits (Python with torch's CUDA build touches about 130 MiB more while it shuts down;
  ``/usr/bin/time -v`` reports it).

The table in ``docs/teaching.md`` ("How the times were measured") comes from this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
MODES = ("normal", "fast")


def notebooks(prefixes: list[str] | None = None) -> list[Path]:
    """The course's notebooks, or those whose name starts with one of ``prefixes`` ("01", "05_group")."""
    found = sorted(NOTEBOOKS.glob("0*.ipynb"))
    if not prefixes:
        return found
    chosen = [path for path in found if any(path.name.startswith(prefix) for prefix in prefixes)]
    missing = [prefix for prefix in prefixes if not any(path.name.startswith(prefix) for path in found)]
    if missing:
        names = ", ".join(path.stem for path in found)
        raise SystemExit(f"--notebooks: no notebook starts with {', '.join(missing)}; the notebooks are {names}.")
    return chosen


#: the cell added at the end of each run: the kernel's peak memory and CPU time, as one line
PROBE = (
    "import re as _re, resource as _resource\n"
    "_use = _resource.getrusage(_resource.RUSAGE_SELF)\n"
    "_hwm = int(_re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
    "print('NOTEBOOK_COST', _use.ru_utime + _use.ru_stime, _hwm)"
)


def run_notebook(path: Path, mode: str, threads: int = 1, timeout: int = 900) -> dict[str, float]:
    """Execute ``path`` in a fresh kernel in ``mode`` ("normal" or "fast"); what it cost.

    ``{"cpu_s", "wall_s", "peak_mib", "error"}``; ``error`` is the first error a cell raised
    (``""`` if none).
    """
    import nbformat
    from nbclient import NotebookClient

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "EQCOURSE_PROGRESS": "0"}
    env.pop("EQCOURSE_FAST", None)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as in JupyterLab: it closes each cell's figures
    if mode == "fast":
        env["EQCOURSE_FAST"] = "1"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    client.execute(env=env)
    wall = time.perf_counter() - start
    errors = [f"{out.ename}: {out.evalue}" for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.output_type == "error"]  # fmt: skip
    probe = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream")
    _, cpu, hwm_kb = probe.split()
    return {"cpu_s": float(cpu), "wall_s": wall, "peak_mib": int(hwm_kb) / 1024, "error": errors[0] if errors else ""}


def table(results: dict[str, dict[str, dict[str, float]]], modes: tuple[str, ...]) -> str:
    """The Markdown table: one row per notebook, ``normal / fast`` in each cell."""
    header = " / ".join(modes)
    lines = [
        f"| notebook | CPU time (s), {header} | wall time (s), {header} | peak memory (MiB), {header} |",
        "|---|---|---|---|",
    ]
    for name, by_mode in results.items():
        cells = [" / ".join(fmt.format(by_mode[m][key]) for m in modes) for key, fmt in
                 (("cpu_s", "{:.0f}"), ("wall_s", "{:.0f}"), ("peak_mib", "{:.0f}"))]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", metavar="PREFIX", help="only these (e.g. 01 05); default: all")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="default: normal fast")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the kernel (default 1)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1; got {args.threads}.")
    modes = tuple(args.modes)
    load_before = os.getloadavg()[0]
    results, failed = {}, []
    for path in notebooks(args.notebooks):
        results[path.stem] = {}
        for mode in modes:
            cost = run_notebook(path, mode, args.threads)
            results[path.stem][mode] = cost
            print(
                f"{path.stem} ({mode}): CPU {cost['cpu_s']:.1f} s, wall {cost['wall_s']:.1f} s, "
                f"peak {cost['peak_mib']:.0f} MiB" + (f"  FAILED: {cost['error']}" if cost["error"] else ""),
                flush=True,
            )
            if cost["error"]:
                failed.append(f"{path.name} ({mode})")
    print(
        f"\n{args.threads} thread(s); load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print(table(results, modes))
    if failed:
        print(f"\nfailed to run: {', '.join(failed)} (run it in JupyterLab to see the error)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
