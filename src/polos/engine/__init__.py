"""Transport-free execution logic: replay, steps, waits and outcomes."""
