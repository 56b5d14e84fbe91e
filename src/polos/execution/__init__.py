"""Sandboxes for agents: execution environments and the tools that drive them."""
