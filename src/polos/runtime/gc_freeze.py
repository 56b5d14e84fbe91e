"""Once per process, when a worker starts: collect, then freeze what is left.

A process that imported Polos with a model SDK or two (openai, anthropic,
pydantic, httpx, aiohttp) holds a few hundred thousand objects made at import
time: modules, classes, functions, pydantic schemas. They live as long as the
process, yet Python's collector walks every one of them at each full (oldest
generation) collection, and a busy worker's allocations trigger one every few
hundred runs or agent turns: ~85 ms each in such a process, paid in the middle
of whatever run the event loop was serving.

``gc.freeze()`` moves every object the collector tracks into a permanent
generation it never walks. Done once, after a ``gc.collect()`` (so that no
garbage is frozen) and after the worker resolved its definitions and opened its
store (so that the application's modules and the store's driver are in), full
collections only walk what the worker made since. Objects frozen stay until
the process ends even if they become unreachable, which is why this is done
once per process and not at every start.

``POLOS_GC_FREEZE=0`` (or ``false``, ``no``, ``off``) in the environment leaves
the collector as the program set it, for a program that manages ``gc`` itself.
"""

from __future__ import annotations

import gc
import os

ENV = "POLOS_GC_FREEZE"
_OFF = frozenset({"0", "false", "no", "off"})
_done = False


def freeze_once() -> bool:
    """Collect and freeze the first time a worker of this process starts.

    True if this call froze; False when it was done already, turned off by
    ``POLOS_GC_FREEZE``, or the collector is disabled (``gc.disable()``: the
    program manages it).
    """
    global _done
    if _done:
        return False
    _done = True
    if os.environ.get(ENV, "").strip().lower() in _OFF or not gc.isenabled():
        return False
    gc.collect()
    gc.freeze()
    return True
