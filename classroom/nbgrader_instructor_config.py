# nbgrader configuration of the instructor on the eqcourse JupyterHub: what makes grading safe.
# `classroom/course.py prepare` copies it to <classroom>/etc/instructor/nbgrader_config.py (only the
# instructor's JUPYTER_CONFIG_PATH has that folder) with sandbox.json beside it. See
# classroom/eqclassroom/ and docs/teaching.md, "Threat model".
import json
import os

from eqclassroom.exchange import CheckedCollect
from eqclassroom.feedback import HideTests
from eqclassroom.gaming import FlagGaming
from eqclassroom.sandbox import SandboxedExecute
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

# collect: only a student's own, link-free, reasonably sized submission
c.ExchangeFactory.collect = CheckedCollect

# autograde: the kernel in bubblewrap as the grader account; then the gaming scan, outside the kernel
c.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, FlagGaming, AssignLatePenalties, CheckCellMetadata]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.json")) as f:
    sandbox = json.load(f)
c.SandboxKernelManager.grader = sandbox["grader"]
c.SandboxKernelManager.python = sandbox["python"]
c.SandboxKernelManager.binds = sandbox["binds"]
c.SandboxKernelManager.socket_root = sandbox["socket_root"]
c.SandboxKernelManager.sandbox_env = {k: os.environ[k] for k in ("EQCOURSE_FAST", "EQCOURSE_PROGRESS")
                                      if k in os.environ}
c.SandboxedExecute.timeout = sandbox["cell_timeout"]
c.SandboxedExecute.notebook_timeout = sandbox["notebook_timeout"]

# feedback: test names, scores and messages; no hidden test code, no traceback
c.GenerateFeedback.preprocessors = [GetGrades, HideTests, CSSHTMLHeaderPreprocessor]
