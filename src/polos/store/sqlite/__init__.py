from .backend import SQLiteStore

__all__ = ["SQLiteStore"]
