"""The formgrader's autograde without blocking the instructor's server (a Jupyter server extension).

nbgrader 0.9.6 runs `autograde` inside the request handler, on the server's only event loop: while a
submission runs (up to the notebook's time limit) the instructor's server answers nothing. Loaded
as a server extension (`jpserver_extensions`), this module replaces that handler's `post` with one
that runs the same `api.autograde` in a worker thread and answers when it is done.
"""

from __future__ import annotations

import asyncio
import json

from tornado import web


def _load_jupyter_server_extension(serverapp) -> None:
    from nbgrader.server_extensions.formgrader import apihandlers
    from nbgrader.server_extensions.formgrader.base import check_notebook_dir, check_xsrf

    @web.authenticated
    @check_xsrf
    @check_notebook_dir
    async def post(self, assignment_id, student_id):
        result = await asyncio.get_running_loop().run_in_executor(None, self.api.autograde, assignment_id, student_id)
        self.write(json.dumps(result))

    apihandlers.AutogradeHandler.post = post
    serverapp.log.info("eqclassroom: the formgrader's autograde runs in a worker thread")


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "eqclassroom.nonblocking"}]
