"""What the grading sandbox costs: one kernel's life (start, import torch and eqcourse, 100 MNIST images, stop).

Run as the instructor of a prepared classroom (docs/teaching.md, "Threat model"):

    sudo runuser -u eqc-teacher -- env -i PATH=/usr/bin:/bin PYTHONPATH=/srv/eqcourse/etc/lib \\
        /srv/eqcourse/venv/bin/python classroom/sandbox_cost.py /srv/eqcourse/etc/instructor/sandbox.json

Prints the seconds of each run, plain kernels and sandboxed ones alternating, and their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from eqclassroom.sandbox import SandboxKernelManager
from jupyter_client.manager import AsyncKernelManager
from traitlets.config import Config

CODE = "import torch, eqcourse.data; x = eqcourse.data.load_mnist('test', 100)"


async def one_kernel(cls: type, config: Config) -> float:
    t = time.monotonic()
    km = cls(kernel_name="python3", config=config)
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    reply = await kc.execute_interactive(CODE, timeout=120, output_hook=lambda msg: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the kernel failed: {reply['content'].get('evalue')}")
    kc.stop_channels()
    await km.shutdown_kernel()
    return time.monotonic() - t


async def main(settings: dict, runs: int) -> None:
    config = Config()
    for key in ("grader", "python", "binds", "socket_root"):
        setattr(config.SandboxKernelManager, key, settings[key])
    times: dict[str, list[float]] = {"plain": [], "sandboxed": []}
    for _ in range(runs):
        times["plain"].append(await one_kernel(AsyncKernelManager, config))
        times["sandboxed"].append(await one_kernel(SandboxKernelManager, config))
    for name, values in times.items():
        print(f"{name:9s} " + " ".join(f"{v:.2f}" for v in values) + f"  median {statistics.median(values):.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", help="<classroom>/etc/instructor/sandbox.json")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with open(args.settings) as f:
        asyncio.run(main(json.load(f), args.runs))
