"""Once per process, when a worker starts: collect, freeze what is left, and
let the young generation grow before it is collected.

**Freeze.** A process that imported Polos with a model SDK or two (openai,
anthropic, pydantic, httpx, aiohttp) holds a few hundred thousand objects made
at import time: modules, classes, functions, pydantic schemas. They live as
long as the process, yet Python's collector walks every one of them at each
full (oldest generation) collection, and a busy worker's allocations trigger
one every few hundred runs or agent turns: ~85 ms each in such a process,
paid in the middle of whatever run the event loop was serving.
``gc.freeze()`` moves every object the collector tracks into a permanent
generation it never walks. Done once, after a ``gc.collect()`` (so that no
garbage is frozen) and after the worker resolved its definitions and opened
its store (so that the application's modules and the store's driver are in),
full collections only walk what the worker made since. Objects frozen stay
until the process ends even if they become unreachable, which is why this is
done once per process and not at every start.

**The young generation's threshold.** By default Python collects its youngest
generation every 700 net allocations of container objects (CPython 3.11 to
3.13), and every few of those an older one. A worker carrying many runs at
once (a thousand agents, each with its conversation, its model request and its
tool calls in flight) allocates millions of objects a second, most of them
alive at any one moment: each collection finds little garbage, but the
survivors move up and the older generations, walked in full, fill quickly. In the agent fleet benchmark the
collector took 3.1 s of an 11 s run (a full collection every second, 160 ms
each). Letting the youngest generation grow to :data:`YOUNG_THRESHOLD` before
it is collected cut that to 0.6 s; the garbage collected late is a few
megabytes at most. The older thresholds are left as they are, and a program
that set the youngest one higher keeps its own.

``POLOS_GC_FREEZE=0`` (or ``false``, ``no``, ``off``) in the environment leaves
the collector as the program set it (neither frozen nor retuned), for a
program that manages ``gc`` itself; so does ``gc.disable()`` before the worker
starts.
"""

from __future__ import annotations

import gc
import os

ENV = "POLOS_GC_FREEZE"
#: Net allocations of tracked objects between two collections of the youngest
#: generation, once a worker has started (see the module's docstring).
YOUNG_THRESHOLD = 50_000
_OFF = frozenset({"0", "false", "no", "off"})
_done = False


def tune_once() -> bool:
    """Collect, freeze and raise the young threshold the first time a worker of
    this process starts.

    True if this call did so; False when it was done already, turned off by
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
    young, *older = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *older)
    return True
