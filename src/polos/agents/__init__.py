"""Agents: LLM loops with tools, built on the durable engine."""
