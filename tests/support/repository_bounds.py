"""Catch the project reading files beside its repository (a user's clone has no shared folder
beside it): a Python audit hook records every file opened in a sibling of the repository, that is in
an entry of the repository's parent folder that is not the repository itself.

The siblings are the parent's entries when the hook is installed, plus `shared` (the team's folder a
user's clone lacks), less the temporary folder, pytest's temporary root and the interpreter's
prefixes wherever they sit there (a clone in the temporary folder, or one beside the venv): what the
tests create later under the temporary folder is theirs, not a sibling's."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PARENT = PROJECT_ROOT.parent

outside_reads: list[str] = []
_siblings: set[str] = set()
_watching = False


def _first_entry_below_parent(path: str) -> str | None:
    """The name of the parent's entry that holds `path`, or None when `path` is not below the parent."""
    parent = str(_PARENT) + os.sep
    return path[len(parent):].split(os.sep, 1)[0] if path.startswith(parent) else None


def _siblings_now() -> set[str]:
    temp = os.path.realpath(tempfile.gettempdir())
    not_siblings = {PROJECT_ROOT.name} | {
        _first_entry_below_parent(os.path.realpath(p))
        for p in (temp, os.path.join(temp, f"pytest-of-{getpass.getuser()}"),
                  sys.prefix, sys.base_prefix, sys.exec_prefix)
    }
    return ({entry.name for entry in _PARENT.iterdir()} | {"shared"}) - not_siblings


def _opened(event: str, args: tuple) -> None:
    if event != "open" or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if _first_entry_below_parent(path) in _siblings:
        outside_reads.append(path)


def watch() -> bool:
    """Install the hook once; False where the repository sits at the file system's root (its
    'siblings' would be the system's own folders)."""
    global _watching
    if Path(PROJECT_ROOT.anchor) == _PARENT:
        return False
    if not _watching:
        _siblings.update(_siblings_now())
        sys.addaudithook(_opened)  # an audit hook cannot be removed: install it once per process
        _watching = True
    return True
