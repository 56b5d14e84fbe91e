"""What ``polos worker`` (and ``polos dev``) import: a module, a file or ``module:attr``.

Importing registers the workflows, agents and tools the code defines, so the
worker serves them. A target that cannot be imported is one line naming it
and saying why, never a traceback through the import machinery: a missing
module, a missing attribute, or the error the user's code raised (with its
file and line).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

HOW = "give a module (my_flows, pkg.flows), a file (flows/my_flows.py) or module:attr"


class LoadError(Exception):
    """The target could not be imported; the message says which and why."""


def load_target(target: str, cwd: Path | None = None) -> Any:
    """Import ``target`` and return the module (or, for ``module:attr``, the attribute)."""
    here = (cwd or Path.cwd()).resolve()
    module_name, _, attr = target.partition(":")
    if not module_name:
        raise LoadError(f"{target!r} names no module; {HOW}")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = (here / module_name).resolve()
        if not path.is_file():
            raise LoadError(f"no file {module_name!r} (looked in {here}); {HOW}")
        # Its folder goes first on sys.path, so the file imports its neighbours as
        # it would when run as a script.
        folder = str(path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module_name = path.stem
    elif str(here) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(here))
    module = _import(target, module_name)
    if not attr:
        return module
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise LoadError(f"module {module_name!r} has no attribute {attr!r} ({target!r})")
        value = getattr(value, part)
    return value


def _import(target: str, module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise LoadError(
                f"no module named {module_name!r} (looked in the current directory and "
                f"sys.path); {HOW}"
            ) from None
        raise LoadError(
            f"importing {target!r} failed: it imports {missing!r}, which is not installed"
            f"{_where(exc)}"
        ) from None
    except SyntaxError as exc:
        raise LoadError(
            f"importing {target!r} failed: {exc.msg} ({exc.filename}, line {exc.lineno})"
        ) from None
    except Exception as exc:
        raise LoadError(
            f"importing {target!r} failed: {type(exc).__name__}: {exc}{_where(exc)}"
        ) from None


def _where(exc: BaseException) -> str:
    """`` (file, line N)`` of the innermost frame outside Python's import machinery."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename
        and not f.filename.startswith("<frozen")
        and f.filename != __file__
    ]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({last.filename}, line {last.lineno})"
