"""What this package is called where it is installed from.

The import name is ``polos``; the distribution (what ``pip install`` takes) is
``polos-durable``, because ``polos`` on PyPI is an unrelated project. Polos's
own SDK, ``polos-sdk``, imports as ``polos`` too: the two cannot share one
environment.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "polos-durable"


def package_version() -> str:
    """The installed version (``0+unknown`` when run from a source tree without metadata)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - a source tree not installed
        return "0+unknown"


def install_hint(extra: str | None = None) -> str:
    """The command that installs this package (with ``extra``)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"
