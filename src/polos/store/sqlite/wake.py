"""Wake-ups between processes that share one SQLite database file.

SQLite has no LISTEN/NOTIFY, so without help a process learns of another's
transitions (work queued, a run finished or cancelled, events published, a
timer set) only when it next polls. Here every open store binds a Unix
datagram socket in a folder that belongs to the database file, and after a
commit that fires an in-process signal (:class:`~..hub.Hub`) the store also
sends that signal's payload to every other socket in the folder; the
receiving store fires the same signal in its own process. The payloads are
PostgreSQL's (``q``, ``t``, ``e``, ``f:<id>``, ``c:<id>``, see
:func:`~..hub.dispatch`); the payloads of one commit travel in one datagram,
one per line.

The folder is ``<database file>-wake/`` beside the file (the last store to
close removes it again); when a socket path
there would be too long for ``AF_UNIX`` (about 107 bytes) or the folder
cannot be made, it is ``polos-<hash of the file's real path>`` under the
temporary directory (private to the user). Processes that pick different
folders (another user, another ``TMPDIR``) just do not wake each other.

Sending must never fail or slow a commit: sends are non-blocking and every
error is swallowed; the folder is listed again only when its mtime changed or
the listing is a second old, so a commit that nobody else listens to costs
one ``stat``. A socket whose process died answers ``ECONNREFUSED`` and is
unlinked by the sender that finds it. Each process skips its own sockets
(its stores share one hub already).

This is an optimisation only: a datagram may be lost (a full receive queue,
a process that has not listed the folder yet, a platform without Unix
datagram sockets, a read-only folder), and that costs latency, never
correctness, because every waiter still polls. Where the socket cannot be
set up, the store says so at debug level and simply polls as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import sys
import tempfile
import time
import weakref
from collections.abc import Iterator, Sequence

from ..hub import Hub, dispatch

log = logging.getLogger("polos.store.sqlite")

#: Usable bytes of ``sun_path`` (108 on Linux, 104 on macOS, with the NUL).
PATH_LIMIT = 103 if sys.platform == "darwin" else 107
#: Longest socket file name: ``<pid>-<8 hex>.sock``, pids up to 10 digits.
_NAME_ROOM = 1 + 10 + 1 + 8 + len(".sock")
_SUFFIX = ".sock"
#: A listing of the folder is trusted this long when its mtime is unchanged
#: (an mtime has a clock tick's resolution, so two changes can share one).
_RELIST_AFTER = 1.0
#: Payloads of one commit go in datagrams of at most this many bytes.
_DATAGRAM_BYTES = 16384
#: Datagrams taken per wake-up of the loop (the rest wait for the next turn).
_READS_PER_TURN = 256


def wake_folder(database_path: str) -> str | None:
    """The folder of ``database_path``'s wake sockets, made if needed; None
    when neither place will do."""
    real = os.path.realpath(database_path)
    beside = real + "-wake"
    if _fits(beside) and _ensure_folder(beside, private=False):
        return beside
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    temp = os.path.join(tempfile.gettempdir(), f"polos-{digest}")
    if _fits(temp) and _ensure_folder(temp, private=True):
        return temp
    return None


def _fits(folder: str) -> bool:
    return len(os.fsencode(folder)) + _NAME_ROOM <= PATH_LIMIT


def _ensure_folder(folder: str, *, private: bool) -> bool:
    """Make ``folder`` if needed; whether sockets can be bound in it. A
    private folder (in the shared temporary directory) must be this user's
    and closed to others."""
    try:
        os.makedirs(folder, mode=0o700 if private else 0o777, exist_ok=True)
        if private:
            info = os.stat(folder)
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return False
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


class Wake:
    """One store's wake socket: receives other processes' signals, sends its own."""

    def __init__(self, folder: str, path: str, sock: socket.socket, hub: Hub) -> None:
        self.folder = folder
        self.path = path
        self._sock = sock
        self._hub = hub
        self._own_prefix = f"{os.getpid()}-"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: list[str] = []
        self._mtime = -1
        self._listed_at = -_RELIST_AFTER
        # The file goes on close, or when the process exits without closing
        # the store (a worker's store stays open until then); SIGKILL leaves
        # it for the next sender to remove.
        self._remove_file = weakref.finalize(self, _unlink, path, folder, os.getpid())

    @classmethod
    def open(cls, database_path: str, hub: Hub) -> Wake | None:
        """Bind a socket for the database and read it on the running loop;
        None where that is not possible (then the store only polls)."""
        if database_path in ("", ":memory:"):
            return None  # a private database: no other process can open it
        if not hasattr(socket, "AF_UNIX"):
            log.debug("no Unix sockets here; processes sharing %s poll", database_path)
            return None
        try:
            folder = wake_folder(database_path)
            if folder is None:
                log.debug("no usable wake folder for %s; processes poll", database_path)
                return None
            path = os.path.join(folder, f"{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except (OSError, ValueError, AttributeError) as exc:
            log.debug("no wake socket for %s (%s); processes poll", database_path, exc)
            return None
        wake = cls(folder, path, sock, hub)
        try:
            sock.setblocking(False)
            try:
                sock.bind(path)
            except FileNotFoundError:
                # The last other process left and removed the empty folder
                # between our making it and binding: make it again, once.
                if wake_folder(database_path) != folder:
                    raise
                sock.bind(path)
            wake._loop = asyncio.get_running_loop()
            wake._loop.add_reader(sock.fileno(), wake._readable)
        except (OSError, NotImplementedError, RuntimeError) as exc:
            log.debug("no wake socket for %s (%s); processes poll", database_path, exc)
            wake.close()
            return None
        return wake

    def close(self) -> None:
        """Stop reading and remove this socket's file."""
        if self._loop is not None:
            with contextlib.suppress(Exception):  # a loop already closed
                self._loop.remove_reader(self._sock.fileno())
            self._loop = None
        self._sock.close()
        self._remove_file()

    # sending ------------------------------------------------------------------
    def send(self, payloads: Sequence[str]) -> None:
        """Tell every other process's socket; never raises, never blocks."""
        if not payloads:
            return
        try:
            peers = self._current_peers()
            if not peers:
                return
            dead: list[str] = []
            for data in _datagrams(payloads):
                for peer in peers:
                    if peer in dead:
                        continue
                    try:
                        self._sock.sendto(data, peer)
                    except (ConnectionRefusedError, FileNotFoundError):
                        dead.append(peer)  # its process is gone
                    except OSError:
                        pass  # a full queue and the like: that process will poll
            for peer in dead:
                self._forget(peer)
        except Exception:  # a wake-up is never worth a failed commit
            log.debug("sending a wake-up failed", exc_info=True)

    def _current_peers(self) -> list[str]:
        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except OSError:
            return []
        now = time.monotonic()
        if mtime != self._mtime or now - self._listed_at >= _RELIST_AFTER:
            self._mtime = mtime
            self._listed_at = now
            with os.scandir(self.folder) as entries:
                self._peers = [
                    entry.path
                    for entry in entries
                    if entry.name.endswith(_SUFFIX) and not entry.name.startswith(self._own_prefix)
                ]
        return self._peers

    def _forget(self, peer: str) -> None:
        with contextlib.suppress(ValueError):
            self._peers.remove(peer)
        with contextlib.suppress(OSError):
            os.unlink(peer)
        log.debug("removed the wake socket %s of a process that is gone", peer)

    # receiving ----------------------------------------------------------------
    def _readable(self) -> None:
        payloads: dict[str, None] = {}  # in order, each once
        for _ in range(_READS_PER_TURN):
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                log.debug("reading the wake socket failed", exc_info=True)
                break
            for line in data.decode("utf-8", "replace").split("\n"):
                if line:
                    payloads[line] = None
        for payload in payloads:
            dispatch(self._hub, payload)


def _unlink(path: str, folder: str, owner: int) -> None:
    if os.getpid() != owner:
        return  # a forked child exiting: the socket is still its parent's
    with contextlib.suppress(OSError):
        os.unlink(path)
    # The last socket out removes the folder, so that closing every store
    # leaves only the database files behind. rmdir refuses while another
    # process's socket is there; one binding meanwhile makes it again.
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _datagrams(payloads: Sequence[str]) -> Iterator[bytes]:
    """The payloads, one per line, in as few datagrams as fit."""
    data = "\n".join(payloads).encode()
    if len(data) <= _DATAGRAM_BYTES:
        yield data
        return
    chunk: list[bytes] = []
    size = 0
    for payload in payloads:
        line = payload.encode()
        if chunk and size + len(line) + 1 > _DATAGRAM_BYTES:
            yield b"\n".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        yield b"\n".join(chunk)
