"""Approvals: finding a suspend, its form, its page, and answering it exactly once."""
