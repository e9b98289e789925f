"""Reading evidence folders (a snapshot, a bundle) without leaving them.

Evidence is untrusted input: a name it lists may try to escape its folder (``../../etc/x``,
an absolute path) and a link inside it may point anywhere. `confined_name` says why a listed
name is unsafe before anything is opened, `list_files` lists a folder refusing every symbolic
link and special file, and `read_confined` opens one file refusing a link on the way (the
final component with O_NOFOLLOW where the system has it).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from auditor.errors import SnapshotError


class UnsafePath(SnapshotError):
    """A path inside evidence that must not be opened: a link, a special file, or a name that
    escapes its folder. `rel` is the offending path relative to the folder checked."""

    def __init__(self, rel: str, message: str):
        self.rel = rel
        super().__init__(message)


def confined_name(rel: Any) -> str | None:
    """Why `rel` is not a safe relative POSIX path inside a folder (None when it is): it must be
    a non-empty string of plain names joined by ``/``, none of them ``.`` or ``..``, with no
    leading ``/``, backslash, drive letter or NUL."""
    if not isinstance(rel, str) or not rel:
        return "not a non-empty text path"
    if "\x00" in rel or "\\" in rel:
        return "holds a NUL or backslash"
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return "is an absolute path"
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "holds an empty, '.' or '..' segment (paths must stay inside the folder)"
    return None


def list_files(root: Path, what: str = "snapshot") -> list[str]:
    """Every regular file under `root` as sorted relative POSIX paths, without following links.

    Raises `UnsafePath` for the first symbolic link (file or folder) or special file (FIFO,
    device, socket) found: evidence is the files themselves, never what a link points at.
    `root` itself may be reached through a link; nothing inside it may be one."""
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise SnapshotError(f"{folder}: cannot list the {what} folder: {exc.strerror or exc}") from None
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                raise UnsafePath(rel, f"{root / rel}: is a symbolic link; a {what} may hold no links "
                                      "(they are never followed: evidence must be the files themselves)")
            if entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), rel + "/")
            elif entry.is_file(follow_symlinks=False):
                found.append(rel)
            else:
                raise UnsafePath(rel, f"{root / rel}: is not a regular file or folder (a FIFO, socket or "
                                      f"device); a {what} holds only files")

    walk(root, "")
    return sorted(found)


def read_confined(root: Path, rel: str, what: str = "snapshot") -> bytes:
    """The bytes of ``root/rel`` where `rel` is checked by `confined_name` and no component
    below `root` may be a symbolic link (the final one is opened with O_NOFOLLOW where the
    system has it, so a link swapped in after listing is not followed either)."""
    with open_confined(root, rel, what) as fh:
        return fh.read()


def open_confined(root: Path, rel: str, what: str = "snapshot") -> BinaryIO:
    """``root/rel`` opened for reading with `read_confined`'s checks (for a file to be read
    in pieces: hashed without holding it whole)."""
    why = confined_name(rel)
    if why is not None:
        raise UnsafePath(str(rel), f"{root}: {rel!r} {why}; refused before opening anything")
    path = root
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise FileNotFoundError(2, "No such file or directory", str(path)) from None
        if stat.S_ISLNK(st.st_mode):
            sub = "/".join(parts[:i + 1])
            raise UnsafePath(sub, f"{root / sub}: is a symbolic link; a {what} may hold no links "
                                  "(they are never followed)")
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise FileNotFoundError(2, "No such file or directory", str(root / rel))
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise UnsafePath(rel, f"{path}: is not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    return os.fdopen(fd, "rb")
