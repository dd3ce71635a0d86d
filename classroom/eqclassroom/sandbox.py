"""Autograding in a sandbox: each submission's kernel runs in bubblewrap, as the grader account.

nbgrader executes a submission with an ordinary Jupyter kernel, as the instructor: the student's
code could read the gradebook and every other submission, plant files in the instructor's home and
use the instructor's hub token. `SandboxedExecute` (nbgrader's Execute) starts the kernel through
`SandboxKernelManager` instead, whose command is

    sudo -n -u <grader> -- bwrap --unshare-all --die-with-parent --new-session --clearenv ... \\
        -- prlimit --as=... --nproc=... --fsize=... -- sh -c 'umask 007; exec "$@"' python -m ipykernel_launcher -f ...

- as `grader`, an account that owns nothing (sudo: /etc/sudoers.d/, written by course.py prepare);
- in new user, PID, network, IPC, UTS and cgroup namespaces: no network at all, no other process
  visible, and everything the submission started dies with the namespace when the kernel ends;
- with a mount view of read-only system folders, the student environment (venv, eqcourse with MNIST
  and checkpoints) and a small tmpfs home: the instructor's home, the gradebook, the exchange and
  the other submissions do not exist in it, and whatever the kernel writes is discarded;
- with an empty environment plus a few harmless variables (no hub token);
- with limits on address space, processes and file size (prlimit), wall time per cell
  (Execute.timeout) and per notebook (`SandboxedExecute.notebook_timeout`).

The kernel talks to the grader over ZMQ's IPC transport: Unix sockets in a per-kernel folder (mode
0770, the grader's group, of which the instructor is a member), the only writable path bound in.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Dict, Integer, List, Unicode

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"
SUDO = "/usr/bin/sudo"
HOME = "/home/sandbox"


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in bubblewrap as `grader` (see the module docstring)."""

    grader = Unicode("", help="the unprivileged account that runs submissions' kernels").tag(config=True)
    python = Unicode("", help="the student environment's python (bound read-only with `binds`)").tag(config=True)
    binds = List(Unicode(), help="folders bound read-only into the sandbox (the student environment)").tag(
        config=True)
    socket_root = Unicode("", help="folder for the per-kernel socket folders (instructor's, reachable by grader)").tag(
        config=True)
    memory_bytes = Integer(6 * 2**30, help="address-space limit of the kernel (RLIMIT_AS; torch maps 3.4 GB)").tag(
        config=True)
    processes = Integer(256, help="process and thread limit of the grader account (RLIMIT_NPROC)").tag(config=True)
    file_bytes = Integer(64 * 2**20, help="largest file the kernel may write (RLIMIT_FSIZE)").tag(config=True)
    tmp_bytes = Integer(128 * 2**20, help="size of the sandbox's writable home and /tmp (tmpfs)").tag(config=True)
    sandbox_env = Dict({}, help="environment variables of the kernel (nothing else is passed)").tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        missing = [name for name in ("grader", "python", "socket_root") if not getattr(self, name)]
        if missing:
            raise RuntimeError(f"SandboxKernelManager.{missing[0]} is not configured: the classroom's "
                               "nbgrader_instructor_config.py sets it (classroom/course.py prepare)")
        self.sockets = tempfile.mkdtemp(prefix="kernel-", dir=self.socket_root)
        group = pwd.getpwnam(self.grader).pw_gid
        os.chown(self.sockets, -1, group)
        os.chmod(self.sockets, 0o770)
        self.transport = "ipc"
        self.cache_ports = False
        self.ip = os.path.join(self.sockets, "zmq")
        self.connection_file = os.path.join(self.sockets, "connection.json")
        kw["cwd"] = "/"
        kw["env"] = {}
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        os.chown(self.connection_file, -1, pwd.getpwnam(self.grader).pw_gid)
        os.chmod(self.connection_file, 0o640)
        if os.path.basename(command[0]).startswith("python"):
            command[0] = self.python
        return [SUDO, "-n", "-u", self.grader, "--", *self.bwrap_args(), "--",
                PRLIMIT, f"--as={self.memory_bytes}", f"--nproc={self.processes}", f"--fsize={self.file_bytes}",
                "--nofile=1024", "--core=0", "--",
                "/bin/sh", "-c", 'umask 007; exec "$@"', "sandbox", *command]

    def bwrap_args(self) -> list[str]:
        args = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
                "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(self.tmp_bytes), "--tmpfs", "/tmp",
                 "--size", str(self.tmp_bytes), "--tmpfs", HOME]
        for path in self.binds:
            args += ["--ro-bind", path, path]
        args += ["--bind", self.sockets, self.sockets, "--remount-ro", "/", "--chdir", HOME]  # only tmpfs is writable
        env = {"HOME": HOME, "PATH": f"{os.path.dirname(self.python)}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": f"{HOME}/.matplotlib",
               **self.sandbox_env}
        for name, value in env.items():
            args += ["--setenv", name, str(value)]
        return args

    async def _async_interrupt_kernel(self):
        """Interrupt with a message on the control channel: a signal to sudo would not reach the kernel."""
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart: bool = False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "sockets", None):
            shutil.rmtree(self.sockets, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(Execute):
    """nbgrader's Execute with the kernel in the sandbox and a time limit for the whole notebook."""

    notebook_timeout = Integer(900, help="seconds for all cells of one notebook together").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        return super().preprocess(nb, resources, km)

    def _get_timeout(self, cell):
        """The cell's timeout, but never past the notebook's deadline (then 1 s for each cell left)."""
        timeout = super()._get_timeout(cell)
        left = getattr(self, "_deadline", float("inf")) - time.monotonic()
        return max(1, int(min(timeout or left, left)))

