"""nbgrader extensions that make the eqcourse classroom safe to grade with (docs/teaching.md, "Threat model").

    exchange     collect takes a submission only from the student who owns it, never through a link
    sandbox      autograding runs each submission's kernel in bubblewrap, as the grader account
    gaming       a static scan of the student's cells; a patch of what the tests rely on is flagged
    feedback     returned feedback shows each test's name, score and message, never the hidden code
    nonblocking  the formgrader's autograde runs in a worker thread: the instructor's server keeps answering

`classroom/course.py prepare` copies this package to <classroom>/etc/lib/ (on every user's PYTHONPATH);
classroom/nbgrader_config.py (everyone) and classroom/nbgrader_instructor_config.py (the
instructor) configure nbgrader to use it.
"""
