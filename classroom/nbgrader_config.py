# nbgrader configuration shared by everyone on the eqcourse JupyterHub (instructor and students).
# `classroom/course.py prepare` copies it to <classroom>/etc/, which the hub puts on every user's
# JUPYTER_CONFIG_PATH. The instructor's own ~/.jupyter/nbgrader_config.py adds the course folder
# (CourseDirectory.root) and the course's settings (the repository's nbgrader_config.py).
#
# The exchange is nbgrader's default one: a folder every user can reach (see docs/teaching.md):
#   <exchange>/                   1777  anyone may create the course folder once; nobody deletes another's
#   <exchange>/eqcourse/          0755  owned by the instructor (made by the first release)
#     outbound/<assignment>/      0755, files 0644: students fetch, nobody but the instructor writes
#     inbound/                    2733  students drop submissions in but cannot list them
#     feedback/                   0711  students read only the feedback files whose names they know
import os
import shutil
import stat
import tempfile

from nbgrader.exchange.default.submit import ExchangeSubmit

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.course_id = "eqcourse"
c.Exchange.root = os.environ.get("EQCOURSE_EXCHANGE", "/srv/nbgrader/exchange")


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, but the submission is readable by its student and the instructor only.

    nbgrader leaves a submission world-readable (files 0644, folder 0777) and hides it behind a
    random folder name in an unlistable inbound/. Here the files are 0640 and the folder 0770, and
    their group is the inbound folder's (the instructor's, through its set-group-id bit): no other
    student may read a submission even by its exact name.
    """

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy (its size and file filters), but into inbound/ without copying modes.

        Folders made in inbound/ inherit its group and its set-group-id bit, so every file of the
        submission, timestamp.txt included, belongs to the instructor's group. shutil.copytree would
        copy the source folder's mode and drop that bit (its owner is not in the group).
        """
        if os.path.dirname(os.path.abspath(dest)) != os.path.abspath(self.inbound_path):
            return super().do_copy(src, dest, log)
        with tempfile.TemporaryDirectory() as tmp:
            staged = os.path.join(tmp, "submission")
            super().do_copy(src, staged, log)
            for folder, _, files in os.walk(staged):
                target = os.path.join(dest, os.path.relpath(folder, staged))
                os.makedirs(target, exist_ok=True)
                for name in files:
                    shutil.copyfile(os.path.join(folder, name), os.path.join(target, name))

    def set_perms(self, dest, fileperms, dirperms):
        no_others = ~(stat.S_IRWXO)
        super().set_perms(dest, fileperms & no_others, dirperms & no_others)

    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        os.chmod(dest, stat.S_IRWXU | stat.S_IRWXG)


c.ExchangeFactory.submit = PrivateSubmit
