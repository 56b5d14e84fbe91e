"""The dependency floors in pyproject.toml cover the features the code uses."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import asyncpg

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _floor(package: str) -> tuple[int, ...]:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for spec in deps:
        match = re.match(rf"{re.escape(package)}\s*>=\s*([\d.]+)", spec)
        if match:
            return tuple(int(part) for part in match.group(1).split("."))
    raise AssertionError(f"{package} has no >= floor in pyproject.toml")


def test_asyncpg_floor_has_create_pool_reset() -> None:
    # The PostgreSQL backend passes reset= to create_pool (skips the reset
    # query on release), which asyncpg added in 0.30.0.
    assert "reset" in inspect.signature(asyncpg.create_pool).parameters
    assert _floor("asyncpg") >= (0, 30)


ROOT = PYPROJECT.parent
PROJECT = tomllib.loads(PYPROJECT.read_text())["project"]


def test_the_distribution_is_not_pypis_polos() -> None:
    # "polos" on PyPI is another project: ours is polos-durable, imported as polos.
    from importlib.metadata import version

    from polos.distribution import DISTRIBUTION, install_hint, package_version

    assert PROJECT["name"] == DISTRIBUTION == "polos-durable"
    assert version(DISTRIBUTION) == package_version() == PROJECT["version"]
    assert install_hint("server") == "pip install 'polos-durable[server]'"
    assert "pip install polos-durable" in (ROOT / "README.md").read_text()


def test_the_demo_sets_up_only_the_core_and_the_server_extra() -> None:
    demo = (ROOT / "run").read_text().split("    demo)")[1].split(";;")[0]
    assert "setup server" in demo and "setup dev" not in demo


def _core_closure() -> set[str]:
    """The distributions the core install brings: our requirements without extras,
    and theirs, recursively (names normalised)."""
    import re as _re
    from importlib.metadata import PackageNotFoundError, requires

    def norm(name: str) -> str:
        return _re.sub(r"[-_.]+", "-", name).lower()

    seen: set[str] = set()
    todo = ["polos-durable"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for req in reqs:
            if "extra ==" in req:
                continue
            todo.append(norm(_re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0]))
    return seen


def test_the_core_imports_need_only_core_dependencies() -> None:
    # import polos (and the CLI and the testing kit) on a core install: every module
    # they load must come from the standard library or a core dependency.
    import json as _json
    import subprocess
    import sys

    code = (
        "import json, sys, importlib.metadata as m\n"
        "import polos, polos.cli.app, polos.testing\n"
        "dists = m.packages_distributions()\n"
        "used = {d for name in list(sys.modules) for d in dists.get(name.split('.')[0], [])}\n"
        "print(json.dumps(sorted(used)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    import re as _re

    used = {_re.sub(r"[-_.]+", "-", d).lower() for d in _json.loads(done.stdout)}
    # Imported only because they happen to be installed here: setuptools' .pth hook,
    # and click, which httpx tries for its optional command line.
    optional = {"setuptools", "click"}
    assert used - _core_closure() - optional == set()
