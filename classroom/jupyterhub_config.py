# JupyterHub for one eqcourse class on one machine (`make classroom`; see docs/teaching.md, "The classroom").
#
# Run as root: each user's Jupyter server runs as that user's system account (LocalProcessSpawner),
# so the file permissions of the homes and of nbgrader's exchange keep students apart. Everything is
# read from environment variables that `classroom/course.py` (and `make classroom`) set:
#
#   EQCOURSE_CLASSROOM          the prepared folder (`classroom/course.py prepare`): venv/, etc/, exchange/, hub/
#   EQCOURSE_INSTRUCTORS        comma-separated system users who grade (formgrader, admin page)
#   EQCOURSE_STUDENTS           comma-separated system users who learn (Assignments tab only)
#   EQCOURSE_HUB_PORT           public port on 127.0.0.1 (default 8000)
#   EQCOURSE_AUTH               "pam" (system passwords, the default) or "dummy" (the automated test only)
#   EQCOURSE_DUMMY_PASSWORD     the shared password of the dummy login
#   EQCOURSE_CLASSROOM_API_TOKEN  optional: a service token that may manage users (used by the tests)
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

HERE = Path(__file__).resolve().parent
CLASSROOM = Path(os.environ.get("EQCOURSE_CLASSROOM", "/srv/eqcourse"))
if not (CLASSROOM / "venv" / "bin" / "python").exists():
    sys.exit(f"jupyterhub_config.py: {CLASSROOM} is not a prepared classroom (no venv/bin/python): "
             "run `python classroom/course.py prepare` first (make classroom does)")


def users(variable: str) -> set[str]:
    return {name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()}


INSTRUCTORS, STUDENTS = users("EQCOURSE_INSTRUCTORS"), users("EQCOURSE_STUDENTS")
if not INSTRUCTORS:
    sys.exit("jupyterhub_config.py: set EQCOURSE_INSTRUCTORS to the instructor's system user name")

# --- network: everything on the loopback interface --------------------------------------------------------
port = int(os.environ.get("EQCOURSE_HUB_PORT", "8000"))
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("EQCOURSE_HUB_INTERNAL_PORT", port + 1))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('EQCOURSE_PROXY_API_PORT', port + 2))}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.debug = False

# --- the hub's own state: root-only --------------------------------------------------------------------------
HUB = CLASSROOM / "hub"
c.JupyterHub.db_url = f"sqlite:///{HUB / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(HUB / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

# --- who may log in --------------------------------------------------------------------------------------------
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.Authenticator.admin_users = INSTRUCTORS
auth = os.environ.get("EQCOURSE_AUTH", "pam")
if auth == "dummy":
    password = os.environ.get("EQCOURSE_DUMMY_PASSWORD", "")
    if len(password) < 8:
        sys.exit("jupyterhub_config.py: the dummy login needs EQCOURSE_DUMMY_PASSWORD (8 characters or more)")
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
    banner = ("TESTING ONLY: this hub uses a dummy login with one shared password for every account. "
              "Never expose it beyond this machine; see docs/teaching.md to use a real authenticator.")
    print("\n" + "!" * 100 + f"\n!!! {banner}\n" + "!" * 100 + "\n", file=sys.stderr, flush=True)
    c.JupyterHub.template_vars = {"announcement_login": banner, "announcement": banner}
elif auth == "pam":  # the system accounts' own passwords (course.py serve generates them)
    import time
    from collections import defaultdict, deque

    from jupyterhub.auth import PAMAuthenticator

    class LimitedPAMAuthenticator(PAMAuthenticator):
        """PAM, with every failed login logged and at most 5 failures per account in 10 minutes."""

        failures = defaultdict(deque)

        async def authenticate(self, handler, data):
            name = str((data or {}).get("username", ""))[:64]
            recent = self.failures[name]
            while recent and time.monotonic() - recent[0] > 600:
                recent.popleft()
            address = handler.request.remote_ip if handler is not None else "?"
            if len(recent) >= 5:
                self.log.warning("login refused for %r from %s: 5 failed logins in 10 minutes", name, address)
                return None
            user = await super().authenticate(handler, data)
            if user is None:
                recent.append(time.monotonic())
                self.log.warning("failed login for %r from %s (%d in 10 minutes)", name, address, len(recent))
            return user

    c.JupyterHub.authenticator_class = LimitedPAMAuthenticator
else:
    sys.exit(f"jupyterhub_config.py: EQCOURSE_AUTH={auth!r}; expected 'dummy' or 'pam' "
             "(or replace this block with your own authenticator, see docs/teaching.md)")

# --- each user's server: the student environment (the wheel), as the user's system account -----------------
VENV = CLASSROOM / "venv"
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV / "bin" / "python"), "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# Not the caller's PYTHONPATH: a checkout on it would put the solutions' package in front of the installed one.
c.Spawner.env_keep = ["LANG", "LC_ALL"]
COMMON_ENV = {
    "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "EQCOURSE_EXCHANGE": str(CLASSROOM / "exchange"),
    "PYTHONPATH": str(CLASSROOM / "etc" / "lib"),  # classroom/eqclassroom (the exchange and grading classes)
    "EQCOURSE_PROGRESS": "0",
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": os.environ.get("EQCOURSE_KERNEL_THREADS", "1"),  # one core per notebook (docs/teaching.md)
}
for name in ("EQCOURSE_FAST",):
    if name in os.environ:
        COMMON_ENV[name] = os.environ[name]
c.Spawner.environment = COMMON_ENV


def per_role(spawner) -> None:
    """Students get the instructor tools switched off (etc/student/), the instructor the grading settings."""
    etc = CLASSROOM / "etc"
    own = "instructor" if spawner.user.name in INSTRUCTORS else "student"
    path = f"{etc / own}:{etc / 'common'}"
    # a new dict for this spawner: the configured one is shared by every spawner
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": path}


c.Spawner.pre_spawn_hook = per_role

# --- a service token for scripted checks (tests/classroom/) --------------------------------------------------
token = os.environ.get("EQCOURSE_CLASSROOM_API_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "classroom-test", "api_token": token}]
    c.JupyterHub.load_roles = [{
        "name": "classroom-test",
        "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users", "read:users"],
        "services": ["classroom-test"],
    }]
