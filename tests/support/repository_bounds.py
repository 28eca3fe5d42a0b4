"""Catch the project reading files beside its repository (a user's clone has no shared folder
beside it): a Python audit hook records every file opened under the repository's parent folder but
outside the repository itself. Temporary folders and the interpreter's own prefix are not "beside"
it, whatever their path."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PARENT = str(PROJECT_ROOT.parent) + os.sep
_INSIDE = (str(PROJECT_ROOT) + os.sep, os.path.realpath(tempfile.gettempdir()) + os.sep,
           *(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}))

outside_reads: list[str] = []
_watching = False


def _opened(event: str, args: tuple) -> None:
    if event != "open" or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if path.startswith(_PARENT) and not path.startswith(_INSIDE):
        outside_reads.append(path)


def watch() -> bool:
    """Install the hook once; False where the repository sits at the file system's root (no siblings)."""
    global _watching
    if PROJECT_ROOT.parent == Path(PROJECT_ROOT.anchor):
        return False
    if not _watching:
        sys.addaudithook(_opened)  # an audit hook cannot be removed: install it once per process
        _watching = True
    return True
