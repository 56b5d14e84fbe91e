"""What tests share to drive real worker processes and wait for outcomes.

- :mod:`.processes`: start, kill and stop worker subprocesses (the one
  worker script is ``tests/apps/worker_app.py``);
- :mod:`.steplog`: the log every traced step appends to, and reading it back;
- :mod:`.waiting`: waiting for a condition or an execution status, with a
  timeout that names what never happened;
- :mod:`.database`: writing to a test database behind Polos's back;
- :mod:`.proxy`: a TCP proxy in front of PostgreSQL that can cut connections;
- :mod:`.docker`: real Docker for the sandbox tests (a busybox image built offline).
"""
