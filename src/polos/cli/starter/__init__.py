"""The files polos init writes, as text (see polos.cli.init)."""
