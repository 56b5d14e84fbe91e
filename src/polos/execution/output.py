"""Shaping what commands and files give back before a model reads it.

A model's context is small and expensive: long outputs are cut to a head and
a tail (the end of a build log is usually what matters), terminal colour
codes are removed, and binary files are refused rather than decoded into noise.
"""

from __future__ import annotations

import re

from polos.execution.types import DEFAULT_MAX_OUTPUT_CHARS, GrepMatch

#: Share of the character budget kept from the start of a long output; the
#: rest comes from its end.
HEAD_SHARE = 0.2
#: How many leading bytes are inspected for a NUL byte.
BINARY_SNIFF_BYTES = 8192

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_GREP_MATCH = re.compile(r"^(.+?):(\d+):(.*)$")
_GREP_CONTEXT = re.compile(r"^(.+?)-(\d+)-(.*)$")


def truncate_output(output: str, max_chars: int | None = None) -> tuple[str, bool]:
    """``(text, truncated)``: ``output`` cut to about ``max_chars`` characters.

    A cut output keeps its first fifth and its last four fifths of the budget
    with a marker in between saying how much was left out.
    """
    limit = DEFAULT_MAX_OUTPUT_CHARS if max_chars is None else max_chars
    if limit < 0:
        raise ValueError(f"max_chars must not be negative, got {limit}")
    if len(output) <= limit:
        return output, False
    head = int(limit * HEAD_SHARE)
    tail = limit - head
    left_out = len(output) - head - tail
    end = output[len(output) - tail :] if tail else ""
    return f"{output[:head]}\n\n--- truncated {left_out} characters ---\n\n{end}", True


def is_binary(data: bytes) -> bool:
    """Whether ``data`` looks binary: a NUL byte among its first 8 KiB."""
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves)."""
    return _ANSI.sub("", text)


def parse_grep_output(output: str) -> list[GrepMatch]:
    """Matches from ``grep -rn`` output (``path:line:text``).

    With ``-C`` grep also prints context lines (``path-line-text``) and ``--``
    separators; context lines are attached to the match they surround.
    """
    matches: list[GrepMatch] = []
    pending: list[str] = []  # context lines seen before the next match
    for raw in output.splitlines():
        if raw == "--":
            pending = []
            continue
        found = _GREP_MATCH.match(raw)
        if found is not None:
            path, line, text = found.groups()
            match = GrepMatch(path=path, line=int(line), text=text)
            if pending:
                match.context = "\n".join(pending)
                pending = []
            matches.append(match)
            continue
        around = _GREP_CONTEXT.match(raw)
        if around is None:
            continue
        path, line, text = around.groups()
        if matches and matches[-1].path == path and int(line) > matches[-1].line:
            previous = matches[-1]
            previous.context = f"{previous.context}\n{text}" if previous.context else text
        else:
            pending.append(text)
    return matches
