"""``polos.tools.ask_user``: the ``ask_user`` tool (see :mod:`polos.agents.ask_user`)."""

from ..agents.ask_user import (
    AskUserField,
    AskUserFieldOption,
    AskUserInput,
    ask_user,
    create_ask_user_tool,
)

__all__ = ["AskUserField", "AskUserFieldOption", "AskUserInput", "ask_user", "create_ask_user_tool"]
