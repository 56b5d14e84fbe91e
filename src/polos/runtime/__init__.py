"""Workers, clients and the embedded ``Polos`` object."""
