"""The ``polos`` command line: run workers, inspect and steer executions."""

from .app import app, main

__all__ = ["app", "main"]
