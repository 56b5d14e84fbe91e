"""The store contract: what every ``Store`` backend must do, on every backend."""
