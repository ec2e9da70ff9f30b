"""The previous version of each schema file, from git, so the gate works before registration."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(RuntimeError):
    """A git command failed (bad --base ref, not a repository...)."""


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def repo_root(path: Path) -> Path | None:
    """The work tree holding `path`, or None when it is not in a git repository."""
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel").strip())
    except (GitError, FileNotFoundError, NotADirectoryError):
        return None


def default_base(root: Path) -> str | None:
    """`git merge-base HEAD main`; HEAD itself when main is missing or is HEAD; None if no HEAD.

    Comparing with HEAD then checks the working-tree change, which is what a developer on main
    (or CI on main after a merge) wants.
    """
    try:
        head = _git(root, "rev-parse", "--verify", "HEAD").strip()
    except GitError:
        return None
    try:
        base = _git(root, "merge-base", "HEAD", "main").strip()
    except GitError:
        return head
    return base or head


def resolve(root: Path, ref: str) -> str:
    """A commit id for `ref` (GitError with git's message when it does not exist)."""
    return _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()


def show(root: Path, ref: str, relpath: str) -> str | None:
    """The content of `relpath` at `ref`, None when the file did not exist there."""
    try:
        return _git(root, "show", f"{ref}:{relpath}")
    except GitError:
        return None


def list_files(root: Path, ref: str, reldir: str) -> list[str]:
    """Paths (relative to the repository root) under `reldir` at `ref`."""
    out = _git(root, "ls-tree", "-r", "--name-only", ref, "--", reldir or ".")
    return sorted(line for line in out.splitlines() if line)
