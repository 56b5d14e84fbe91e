"""What the tests of Polos's own examples share, whether Python or TypeScript runs them.

The Python examples (tests/polos_examples.py, ``python main.py``) and the
TypeScript ones (tests/ts_kit.py, ``node --import tsx main.ts``) talk to the same
fake model servers of ``polos.testing``, scripted the same way:

- ``openai_llm`` / ``anthropic_llm``: a fake model server per test (fixtures, made
  available to every test module through tests/conftest.py);
- ``openai_env`` / ``anthropic_env``: the variables that point an example's SDK at one;
- ``script``: each model request takes the next scripted answer, a ``Turn`` or a
  function of the request, which can read what the tools returned
  (``tool_outputs``), so the example's printed answer proves the tool ran;
- ``tool_outputs``, ``user_texts``...: what an example sent to the model, in any
  of the three wire formats (OpenAI Responses, Chat Completions, Anthropic Messages);
- the answers both SDKs' runs of one example get, and ``submit_approval_page``:
  example 22's person.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from polos.testing import FakeAnthropicServer, FakeOpenAIServer, RecordedRequest, Turn

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

Answer = Callable[[RecordedRequest], Turn]


@pytest.fixture
def openai_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def anthropic_llm() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


def openai_env(llm: FakeOpenAIServer) -> dict[str, str]:
    return {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test"}


def anthropic_env(llm: FakeAnthropicServer, *, base_path: str = "") -> dict[str, str]:
    """``base_path="/v1"`` for the Vercel AI SDK's provider, whose base URL includes
    it (the ``anthropic`` SDK appends it itself)."""
    return {"ANTHROPIC_BASE_URL": llm.base_url + base_path, "ANTHROPIC_API_KEY": "sk-ant-test"}


# --- scripting the model ---------------------------------------------------------------


def conversation(*answers: Answer | Turn, pass_guardrails: bool = False) -> Answer:
    """One turn source for a whole example: every request gets the next answer (a
    turn, or a function of the request). ``pass_guardrails``: the checks of string
    guardrails pass without taking an answer (for examples that have them)."""
    queue = list(answers)

    def answer(request: RecordedRequest) -> Turn:
        if pass_guardrails and is_guardrail_judge(request):
            return Turn.reply('{"passed": true, "reason": ""}')
        assert queue, f"the example asked the model more than scripted: {request.body}"
        nxt = queue.pop(0)
        return nxt(request) if callable(nxt) else nxt

    return answer


def script(
    server: FakeOpenAIServer | FakeAnthropicServer,
    *answers: Answer | Turn,
    pass_guardrails: bool = False,
) -> None:
    source = conversation(*answers, pass_guardrails=pass_guardrails)
    # More turns than answers: a request past the script fails in ``answer``, with the
    # request, rather than on an empty script (guardrail checks take turns too).
    server.add_turns(*[source] * (len(answers) + 40))


# --- reading what an example sent to the model ------------------------------------------


def _items(request: RecordedRequest) -> list[Mapping[str, Any]]:
    """The conversation items of a Responses, Chat Completions or Messages request."""
    body = request.body
    items = body.get("input", body.get("messages", []))
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_of(part) for part in content)
    if isinstance(content, Mapping):
        return str(content.get("text") or _text_of(content.get("content")))
    return ""


def _tool_results(item: Mapping[str, Any]) -> list[str]:
    if item.get("type") == "function_call_output":
        return [str(item.get("output"))]
    if item.get("role") == "tool":
        return [_text_of(item.get("content"))]
    content = item.get("content")
    if isinstance(content, list):
        return [
            _text_of(part.get("content"))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "tool_result"
        ]
    return []


def user_texts(request: RecordedRequest) -> list[str]:
    return [
        _text_of(i.get("content"))
        for i in _items(request)
        if i.get("role") == "user" and not _tool_results(i)
    ]


def tool_outputs(request: RecordedRequest) -> list[Any]:
    """What the tools returned, as the model is told (parsed when it is JSON)."""
    outputs: list[Any] = []
    for item in _items(request):
        for text in _tool_results(item):
            try:
                outputs.append(json.loads(text))
            except ValueError:
                outputs.append(text)
    return outputs


def last_output(request: RecordedRequest) -> Any:
    """What the last tool call returned, as the model was told."""
    outputs = tool_outputs(request)
    assert outputs, "the model was not sent a tool result"
    return outputs[-1]


def is_guardrail_judge(request: RecordedRequest) -> bool:
    body = request.body
    formats = [body.get("response_format"), body.get("text")]
    return "GuardrailEvaluationResult" in json.dumps(formats)


# --- what both SDKs' runs of an example are answered ------------------------------------


def weather_report(request: RecordedRequest) -> Turn:
    """Example 01's answer once ``get_weather`` ran: its result, in words."""
    [weather] = tool_outputs(request)
    return Turn.reply(
        f"It's {weather['temperature']}°{weather['unit']} and "
        f"{weather['condition'].lower()} in {weather['city']}."
    )


#: Example 02's structured answer.
MOVIE_REVIEW = {
    "title": "The Dark Knight",
    "rating": 9,
    "genre": "Action, Crime, Drama",
    "summary": "Batman faces the Joker.",
    "pros": ["Heath Ledger's Joker", "Tense pacing"],
    "cons": ["Long runtime"],
    "recommendation": "Anyone who likes crime thrillers",
}

#: Example 03's three streamed answers, in order.
STORY = "Unit 7 dipped a brush in blue and, for the first time, hesitated."
HAIKU = "Granite shoulders rise / snow keeps the old silence / clouds pass, mountains stay"
BENEFITS = "1. Knowledge. 2. Empathy. 3. Focus."
STREAMED = tuple(Turn(text=text, chunk_delay=0.01) for text in (STORY, HAIKU, BENEFITS))

#: Example 05's structured answer.
REASONING = {
    "problem": "17 sheep, all but 9 run away",
    "thinking_steps": ["'All but 9' means 9 stay."],
    "conclusion": "9 sheep",
    "confidence": "high",
}


async def submit_approval_page(approval_url: str) -> str:
    """Example 22's person: open the approval page in a browser (JavaScript off),
    approve as Grace Hopper for "Release train 42" and submit. What the page said."""
    from browser import chromium  # imported late: browser imports conftest, which imports us

    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        await page.goto(approval_url)
        assert await page.title() == "Deploy api-gateway v2.4.0"
        text: str = await page.inner_text("main")
        await page.check("#field-approved")
        await page.fill("#field-approver", "Grace Hopper")
        await page.fill("#field-reason", "Release train 42")
        await page.click("button[type=submit]")
        await page.wait_for_url("**?submitted=1")
        await context.close()
    return text
