# nbgrader configuration shared by everyone on the eqcourse JupyterHub (instructor and students).
# `classroom/course.py prepare` copies it to <classroom>/etc/common/, which the hub puts on every
# user's JUPYTER_CONFIG_PATH; the instructor also gets etc/instructor/ (nbgrader_instructor_config.py:
# the checked collect, the sandboxed autograde, feedback without hidden tests). The classes come
# from classroom/eqclassroom/, copied to <classroom>/etc/lib/ (on every user's PYTHONPATH).
#
# The exchange is nbgrader's file-system one, prepared by course.py (docs/teaching.md, "Threat model"):
#   <exchange>/                   1777  nbgrader wants it so; course.py creates the course folder first
#   <exchange>/eqcourse/          0755  owned by the instructor (so no student can take it first)
#     outbound/<assignment>/      0755, files 0644: students fetch, nobody but the instructor writes
#     inbound/                    2733  students drop submissions in but cannot list them
#     feedback/                   0711  students read only the feedback files whose names they know
import os

from eqclassroom.exchange import PrivateSubmit

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.course_id = "eqcourse"
c.Exchange.root = os.environ.get("EQCOURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.ExchangeFactory.submit = PrivateSubmit
