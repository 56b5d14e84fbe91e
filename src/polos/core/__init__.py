"""``polos.core``: the module paths Polos code imports workflows, contexts and state from."""
