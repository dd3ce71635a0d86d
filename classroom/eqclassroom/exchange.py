"""nbgrader's file-system exchange, hardened: private submissions, and a collect that trusts no claim.

nbgrader names a submission `inbound/<student>+<assignment>+<timestamp>+<random>/` and believes all
three parts; its collect only logs a warning when the folder's owner is somebody else, and copies
symbolic links as the files they point to, with the instructor's rights. `CheckedCollect` takes an
entry only when

- the entry is a real folder (not a link) owned by the system account of the student it names;
- everything in it is a folder or a regular file (no link, FIFO, device or socket), read through
  file descriptors opened with O_NOFOLLOW (no race between a check and the copy);
- it holds at most `max_files` files and `max_bytes` bytes, and nbgrader's timestamp.txt and
  submission_secret.txt (release_feedback fails for the whole class without the latter).

Anything else is skipped and reported (the other students' work is still collected). The time of
a submission is the newest change time (ctime) of its folder and files, which no user can set back
or forward; the timestamp in the name and in timestamp.txt is the student's claim and is replaced.
Of a student's entries the newest good one is taken (nbgrader's `--before-duedate` is not supported:
the due date is enforced by the late penalty, computed from that trusted time).
"""

from __future__ import annotations

import datetime
import errno
import fnmatch
import os
import pwd
import shutil
import stat
import tempfile

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import parse_utc
from traitlets import Integer

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
REQUIRED = ("timestamp.txt", "submission_secret.txt")  # what nbgrader's submit writes, and later steps read


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


class Rejected(Exception):
    """An inbound entry that collect must not take (the message says why)."""


class CheckedCollect(ExchangeCollect):
    """nbgrader's collect, taking only entries that pass the checks of this module's docstring."""

    max_bytes = Integer(50 * 2**20, help="largest submission (all files together) collect takes, in bytes").tag(
        config=True)
    max_files = Integer(200, help="most files one submission may hold").tag(config=True)

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        self.staging = tempfile.mkdtemp(prefix="eqcourse-collect-")
        self.rejected: list[str] = []
        wanted = self.coursedir.student_id or "*"  # nbgrader's ids may be glob patterns
        claims: dict[str, list[tuple[datetime.datetime, str]]] = {}
        for name in sorted(os.listdir(self.inbound_path)):
            parts = name.rsplit("+", 3)
            if len(parts) < 3:
                self._reject(name, "not <student>+<assignment>+<timestamp>[+<random>]")
                continue
            if not (fnmatch.fnmatchcase(parts[1], self.coursedir.assignment_id or "*")
                    and fnmatch.fnmatchcase(parts[0], wanted)):
                continue
            try:
                claimed = parse_utc(parts[2])
            except Exception:  # noqa: BLE001 (nbgrader's parser raises several kinds)
                self._reject(name, f"unreadable timestamp {parts[2][:40]!r}")
                continue
            claims.setdefault(parts[0], []).append((claimed, name))
        self.src_records = []
        for student, entries in sorted(claims.items()):
            for claimed, name in sorted(entries, reverse=True):  # newest claim first; the first good one wins
                try:
                    when = self._stage(student, name)
                except Rejected as err:
                    self._reject(name, str(err))
                    continue
                if abs((when - claimed).total_seconds()) > 120:
                    self.log.warning("%s: its name says %s but its files were written at %s; using the latter",
                                     name, claimed, when)
                self.src_records.append({"username": student, "filename": name, "timestamp": when})
                break
        self.duedate = None

    def _reject(self, name: str, why: str) -> None:
        message = f"skipped inbound/{name}: {why}"
        self.rejected.append(message)
        self.log.warning(message)

    def _stage(self, student: str, name: str) -> datetime.datetime:
        """Copy inbound/`name` into the staging folder, checking it on the way; returns its trusted time."""
        try:
            uid = pwd.getpwnam(student).pw_uid
        except KeyError:
            raise Rejected(f"no system account named {student!r}") from None
        target = os.path.join(self.staging, name)
        state = {"files": 0, "bytes": 0, "ctime": 0.0}
        parent = os.open(self.inbound_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._copy_folder(parent, name, target, uid, state)
        except OSError as err:
            shutil.rmtree(target, ignore_errors=True)
            raise Rejected(f"unreadable ({err.strerror or err})") from None
        except Rejected:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            os.close(parent)
        missing = [name for name in REQUIRED if not os.path.isfile(os.path.join(target, name))]
        if missing:  # release_feedback would fail for everybody without the secret
            shutil.rmtree(target, ignore_errors=True)
            raise Rejected(f"not an nbgrader submission (no {' or '.join(missing)})")
        when = datetime.datetime.fromtimestamp(state["ctime"], datetime.UTC).replace(tzinfo=None)
        with open(os.path.join(target, "timestamp.txt"), "w") as out:
            out.write(when.strftime(TIMESTAMP_FORMAT))
        return when

    def _copy_folder(self, parent_fd: int, name: str, target: str, uid: int | None, state: dict) -> None:
        """Copy the folder `name` (relative to `parent_fd`) to `target`; `uid`: its required owner."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
        except OSError as err:
            if err.errno in (errno.ENOTDIR, errno.ELOOP):  # a file or a link where a folder should be
                raise Rejected(f"{name!r} is not a folder (a link, file or device)") from None
            raise
        try:
            info = os.fstat(fd)
            if uid is not None and info.st_uid != uid:
                owner = _user_name(info.st_uid)
                raise Rejected(f"it claims to be {pwd.getpwuid(uid).pw_name}'s but is owned by {owner}")
            state["ctime"] = max(state["ctime"], info.st_ctime)
            os.makedirs(target, exist_ok=True)
            for entry in os.listdir(fd):
                mode = os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    self._copy_folder(fd, entry, os.path.join(target, entry), None, state)
                elif stat.S_ISREG(mode):
                    self._copy_file(fd, entry, os.path.join(target, entry), state)
                else:
                    raise Rejected(f"{entry!r} is a {_kind(mode)}, not a file or folder")
        finally:
            os.close(fd)

    def _copy_file(self, dir_fd: int, name: str, target: str, state: dict) -> None:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # swapped for something else since the listing
                raise Rejected(f"{name!r} is a {_kind(info.st_mode)}, not a file")
            state["files"] += 1
            state["bytes"] += info.st_size
            state["ctime"] = max(state["ctime"], info.st_ctime)
            if state["files"] > self.max_files:
                raise Rejected(f"more than {self.max_files} files (CheckedCollect.max_files)")
            if state["bytes"] > self.max_bytes:
                raise Rejected(f"more than {self.max_bytes} bytes (CheckedCollect.max_bytes)")
            left = info.st_size + 1  # read one byte more than stated: a file that grows is refused
            with os.fdopen(os.dup(fd), "rb") as src, open(target, "wb") as dst:
                while left > 0 and (chunk := src.read(min(left, 1 << 20))):
                    dst.write(chunk)
                    left -= len(chunk)
            if left <= 0:
                raise Rejected(f"{name!r} grew while it was copied")
        finally:
            os.close(fd)

    def do_copy(self, src, dest, log=None):
        """Copy the checked copy in the staging folder, never the inbound entry itself."""
        staged = os.path.join(self.staging, os.path.basename(src))
        shutil.copytree(staged, dest)

    def copy_files(self):
        try:
            super().copy_files()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
        if self.rejected:
            self.log.warning("collect skipped %d inbound entr%s:\n  %s", len(self.rejected),
                             "y" if len(self.rejected) == 1 else "ies", "\n  ".join(self.rejected))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _kind(mode: int) -> str:
    for test, kind in [(stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")]:
        if test(mode):
            return kind
    return "special file"
