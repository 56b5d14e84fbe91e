"""Which commands may run unattended, and which paths stay inside a workspace."""

from __future__ import annotations

import os
import re


def match_glob(text: str, pattern: str) -> bool:
    """Whether the whole of ``text`` matches ``pattern``, where ``*`` matches anything.

    Only ``*`` is special: a command such as ``ls [a]`` is compared literally.
    """
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def evaluate_allowlist(command: str, patterns: list[str]) -> bool:
    """Whether ``command`` matches one of the allowlist ``patterns`` (e.g. ``"ls *"``).

    A pattern matches a whole command: ``"ls *"`` allows ``ls -la``. A command
    chained with ``;``, ``&&``, ``||``, ``|``, a newline, backticks or ``$(``
    must have every part allowed, so ``"ls *"`` does not allow ``ls; rm -rf /``
    (an allowed prefix cannot smuggle in a second command); only a ``"*"``
    pattern allows anything.
    """
    trimmed = command.strip()
    if not trimmed:
        return False
    if any(match_glob(trimmed, p) for p in patterns if p.strip() == "*"):
        return True
    parts = [p.strip() for p in re.split(r";|&&|\|\||\||\n|`|\$\(", trimmed)]
    parts = [p for p in parts if p]
    return bool(parts) and all(any(match_glob(p, pat) for pat in patterns) for p in parts)


def is_within_restriction(resolved_path: str, restriction: str) -> bool:
    """Whether the absolute ``resolved_path`` is ``restriction`` or lies under it."""
    base = os.path.abspath(restriction)
    return resolved_path == base or resolved_path.startswith(base.rstrip(os.sep) + os.sep)


def assert_safe_path(file_path: str, restriction: str) -> None:
    """Raise ``ValueError`` if ``file_path`` (relative to ``restriction``) leaves it."""
    base = os.path.abspath(restriction)
    resolved = os.path.abspath(os.path.join(base, file_path))
    if not is_within_restriction(resolved, base):
        raise ValueError(
            f"path {file_path!r} resolves to {resolved}, outside the workspace {base}; "
            "use a path inside the workspace"
        )
