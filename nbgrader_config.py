# nbgrader configuration for eqcourse (read by every `nbgrader ...` command run from this folder,
# and by the formgrader when `make lab` starts JupyterLab here). The course root is this folder:
#   source/<id>/<id>.ipynb      instructor versions, copied from notebooks/ by `make assignments`
#   release/<id>/<id>.ipynb     student versions (solutions and hidden tests removed)
#   submitted/<student>/<id>/   collected work;  autograded/, feedback/, gradebook.db: grading
# One assignment per numbered notebook, named after it (01_groups, 02_..., ...). See docs/teaching.md.
c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.course_id = "eqcourse"

# A notebook loads shipped checkpoints and runs in well under a minute, but a slow classroom server
# shared by many students can be several times slower than a laptop: allow 5 minutes per cell.
c.Execute.timeout = 300

# The stub a student sees in place of each solution (nbgrader's default, stated here on purpose:
# tests/test_assignments.py relies on it raising NotImplementedError).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
