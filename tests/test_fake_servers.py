"""The fake LLM servers, driven by the real ``openai`` and ``anthropic`` SDKs.

Each test checks that an SDK, including its own streaming helpers, parses
what the fake server sends: if these pass, agents pointed at the fakes see
what they would see from the real APIs.
"""

from __future__ import annotations

import json
import socket
import time

import anthropic
import openai
import pytest

from offline import no_network  # noqa: F401  (autouse: no test reaches the network)
from polos.testing import FakeAnthropicServer, FakeOpenAIServer, FakeToolCall, RecordedRequest, Turn


def openai_client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


def async_openai_client(server: FakeOpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


def anthropic_client(server: FakeAnthropicServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0)


PARALLEL_CALLS = Turn.calls(
    FakeToolCall("get_weather", {"city": "Paris"}, id="call_a"),
    FakeToolCall("get_time", {"zone": "CET", "precise": True}),
)

# -- the script itself ------------------------------------------------------


def test_turn_text_chunks_rebuild_the_text() -> None:
    assert Turn.reply("Hello there,  world!").text_chunks() == ["Hello ", "there,  ", "world!"]
    assert Turn(text="abc", chunks=("a", "bc")).text_chunks() == ["a", "bc"]
    assert Turn.reply("").text_chunks() == []


def test_turn_helpers() -> None:
    error = Turn.error(429, retry_after=1.5)
    assert error.is_error and error.headers == {"retry-after": "1.5"}
    assert Turn.call("lookup", {"q": 1}).effective_finish_reason == "tool_calls"
    assert Turn.reply("x").effective_finish_reason == "stop"
    assert Turn(text="x", finish_reason="length").effective_finish_reason == "length"


def test_url_before_start_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeOpenAIServer().base_url


# -- OpenAI Chat Completions ------------------------------------------------


def test_chat_completion_from_a_sync_client() -> None:
    with FakeOpenAIServer([Turn.reply("Hello!", input_tokens=7, output_tokens=3)]) as server:
        completion = openai_client(server).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
        )
    assert completion.choices[0].message.content == "Hello!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-test"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    assert completion.usage.total_tokens == 10
    [request] = server.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.body["messages"] == [{"role": "user", "content": "Hi"}]
    assert request.headers["authorization"] == "Bearer test-key"


async def test_chat_parallel_tool_calls() -> None:
    async with FakeOpenAIServer([PARALLEL_CALLS]) as server:
        client = async_openai_client(server)
        completion = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "Weather and time?"}]
        )
        await client.close()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["get_weather", "get_time"]
    first, second = (c for c in calls if c.type == "function")
    assert first.id == "call_a"
    assert second.id and second.id != first.id
    assert json.loads(second.function.arguments) == {"zone": "CET", "precise": True}


async def test_chat_stream_chunks_in_order_then_usage() -> None:
    turn = Turn(text="one two three", input_tokens=4, output_tokens=3)
    async with FakeOpenAIServer([turn]) as server:
        client = async_openai_client(server)
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["one ", "two ", "three"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 7
    assert server.requests[0].stream


def test_chat_stream_helper_assembles_tool_calls() -> None:
    """The SDK's own accumulator joins the argument pieces the server splits."""
    with (
        FakeOpenAIServer([PARALLEL_CALLS]) as server,
        openai_client(server).chat.completions.stream(
            model="gpt-test", messages=[{"role": "user", "content": "go"}]
        ) as stream,
    ):
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls if c.type == "function"] == [
        {"city": "Paris"},
        {"zone": "CET", "precise": True},
    ]


def test_no_usage_chunk_unless_asked() -> None:
    with FakeOpenAIServer([Turn.reply("hi")]) as server:
        stream = openai_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks)


# -- OpenAI Responses -------------------------------------------------------


def test_responses_text_and_usage() -> None:
    with FakeOpenAIServer([Turn.reply("Bonjour", input_tokens=5, output_tokens=2)]) as server:
        response = openai_client(server).responses.create(model="gpt-test", input="Salut")
    assert response.output_text == "Bonjour"
    assert response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens == 7
    assert server.requests[0].path == "/v1/responses"
    assert server.requests[0].body["input"] == "Salut"


def test_responses_function_calls() -> None:
    with FakeOpenAIServer([PARALLEL_CALLS]) as server:
        response = openai_client(server).responses.create(model="gpt-test", input="go")
    calls = [item for item in response.output if item.type == "function_call"]
    assert (calls[0].call_id, calls[0].name) == ("call_a", "get_weather")
    assert json.loads(calls[1].arguments) == {"zone": "CET", "precise": True}


async def test_responses_stream_helper_gives_deltas_and_final_response() -> None:
    turn = Turn(text="Hi there", tool_calls=PARALLEL_CALLS.tool_calls)
    async with FakeOpenAIServer([turn]) as server:
        client = async_openai_client(server)
        deltas: list[str] = []
        async with client.responses.stream(model="gpt-test", input="go") as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
            final = await stream.get_final_response()
        await client.close()
    assert deltas == ["Hi ", "there"]
    assert final.output_text == "Hi there"
    assert [i.name for i in final.output if i.type == "function_call"] == [
        "get_weather",
        "get_time",
    ]


def test_responses_raw_stream_event_order() -> None:
    with FakeOpenAIServer([Turn.reply("ab")]) as server:
        events = list(openai_client(server).responses.create(model="m", input="x", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_responses_length_limit_is_incomplete() -> None:
    with FakeOpenAIServer([Turn(text="cut", finish_reason="length")]) as server:
        response = openai_client(server).responses.create(model="m", input="x")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


# -- Anthropic Messages -----------------------------------------------------


async def test_anthropic_message_with_text_and_tool_use() -> None:
    turn = Turn.calls(*PARALLEL_CALLS.tool_calls, text="Let me check.")
    async with FakeAnthropicServer([turn]) as server:
        client = anthropic_client(server)
        message = await client.messages.create(
            model="claude-test",
            max_tokens=100,
            system="Be brief.",
            messages=[{"role": "user", "content": "Weather?"}],
        )
        await client.close()
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text" and message.content[0].text == "Let me check."
    tool_uses = [block for block in message.content if block.type == "tool_use"]
    first = tool_uses[0]
    assert (first.id, first.name, first.input) == ("call_a", "get_weather", {"city": "Paris"})
    assert tool_uses[1].id.startswith("toolu_")
    assert message.usage.input_tokens == 10 and message.usage.output_tokens == 20
    [request] = server.requests
    assert request.path == "/v1/messages"
    assert request.body["system"] == "Be brief."
    # The SDK sends the key as x-api-key or, in recent versions, as a bearer token.
    sent = (request.headers.get("x-api-key"), request.headers.get("authorization"))
    assert "test-key" in sent or "Bearer test-key" in sent


async def test_anthropic_stream_helper() -> None:
    turn = Turn(text="Streaming is fun", tool_calls=(FakeToolCall("f", {"a": [1, 2]}),))
    async with FakeAnthropicServer([turn]) as server:
        client = anthropic_client(server)
        async with client.messages.stream(
            model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            texts = [text async for text in stream.text_stream]
            final = await stream.get_final_message()
        await client.close()
    assert texts == ["Streaming ", "is ", "fun"]
    assert final.content[0].type == "text" and final.content[0].text == "Streaming is fun"
    assert final.content[1].type == "tool_use" and final.content[1].input == {"a": [1, 2]}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 20


async def test_anthropic_raw_stream_event_order() -> None:
    async with FakeAnthropicServer([Turn.reply("x")]) as server:
        client = anthropic_client(server)
        stream = await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "go"}], stream=True
        )
        kinds = [event.type async for event in stream]
        await client.close()
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# -- errors, script control, recording ---------------------------------------


def test_openai_error_turns_carry_status_message_and_retry_after() -> None:
    with (
        FakeOpenAIServer([Turn.error(429, "slow down", retry_after=3)]) as server,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        openai_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert isinstance(caught.value.body, dict) and caught.value.body["message"] == "slow down"


async def test_anthropic_error_turns_use_anthropic_error_shape() -> None:
    async with FakeAnthropicServer([Turn.error(529, "overloaded")]) as server:
        client = anthropic_client(server)
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(
                model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
        await client.close()
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "overloaded"},
    }


def test_running_out_of_turns_is_a_clear_error() -> None:
    with FakeOpenAIServer([Turn.reply("only one")]) as server:
        client = openai_client(server)
        client.responses.create(model="m", input="1")
        with pytest.raises(openai.BadRequestError, match="no scripted turn left for request #2"):
            client.responses.create(model="m", input="2")
    assert len(server.requests) == 2


def test_turn_functions_see_the_request() -> None:
    def echo(request: RecordedRequest) -> Turn:
        messages = request.body["messages"]
        assert isinstance(messages, list) and isinstance(messages[-1], dict)
        return Turn.reply(f"you said {messages[-1]['content']}")

    with FakeOpenAIServer([echo, echo]) as server:
        client = openai_client(server)
        for word in ("ping", "pong"):
            completion = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": word}]
            )
            assert completion.choices[0].message.content == f"you said {word}"


def test_a_failing_turn_function_is_reported() -> None:
    def broken(request: RecordedRequest) -> Turn:
        raise KeyError("oops")

    with (
        FakeOpenAIServer([broken]) as server,
        pytest.raises(openai.BadRequestError, match="turn function raised KeyError"),
    ):
        openai_client(server).responses.create(model="m", input="x")


def test_turns_can_be_added_while_running() -> None:
    with FakeOpenAIServer() as server:
        assert server.remaining_turns == 0
        server.add_turns(Turn.reply("late"))
        assert server.remaining_turns == 1
        assert openai_client(server).responses.create(model="m", input="x").output_text == "late"
        assert server.remaining_turns == 0


def test_models_listing() -> None:
    with FakeOpenAIServer() as server:
        assert [m.id for m in openai_client(server).models.list()] == ["fake-model"]
    assert server.requests == []  # listing models takes no scripted turn


def test_server_is_gone_after_the_block() -> None:
    with FakeOpenAIServer() as server:
        port = server.port
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_two_servers_at_once_get_distinct_ports() -> None:
    with FakeOpenAIServer() as first, FakeAnthropicServer() as second:
        assert first.port != second.port
        assert first.base_url.endswith("/v1") and not second.base_url.endswith("/v1")


def test_latency_plays_a_slow_model_and_is_checked() -> None:
    with (
        FakeOpenAIServer([Turn.reply("quick")]) as quick,
        FakeOpenAIServer([Turn.reply("slow")], latency=0.2) as slow,
    ):
        for fake, text in ((quick, "quick"), (slow, "slow")):
            started = time.monotonic()
            answer = openai_client(fake).responses.create(model="m", input="hi")
            took = time.monotonic() - started
            assert answer.output_text == text
        assert took >= 0.2  # the slow one waited at least its latency
    with pytest.raises(ValueError, match="latency"):
        FakeOpenAIServer(latency=-1)
    with pytest.raises(ValueError, match="low <= high"):
        FakeOpenAIServer(latency=(0.5, 0.1))


async def test_busy_seconds_counts_each_answer_to_its_last_streamed_byte() -> None:
    # Anthropic, streamed: the chunks' delays fall after the handler returned,
    # so only a count that waits for the last byte sees them.
    slow_stream = Turn(text="a b c", chunks=("a", "b", "c"), chunk_delay=0.05)
    async with FakeAnthropicServer([slow_stream, Turn.reply("ok")], latency=0.1) as fake:
        assert fake.busy_seconds == 0.0
        client = anthropic_client(fake)
        started = time.monotonic()
        async with client.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            assert await stream.get_final_text() == "abc"
        await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        took = time.monotonic() - started
    # Two latencies and three chunk delays at least; never more than the caller waited.
    assert 0.2 + 0.15 <= fake.busy_seconds <= took


def test_an_idle_keep_alive_connection_stays_open_past_five_seconds() -> None:
    """Model APIs keep an idle connection open longer than clients do (aiohttp
    keeps one 15 s): a fake closing it after 5 s could close it just as a busy
    client reused it, which a client without retries reported as a failure."""

    def ask(conn: socket.socket, body: bytes) -> bytes:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: fake\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            assert chunk, "the server closed the connection"
            answer += chunk
        header, _, rest = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(rest) < length:
            chunk = conn.recv(65536)
            assert chunk, "the server closed the connection mid-answer"
            rest += chunk
        return header.split(b"\r\n")[0]

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    with FakeOpenAIServer([Turn.reply("one"), Turn.reply("two")]) as server:
        with socket.create_connection((server.host, server.port), timeout=10) as conn:
            assert ask(conn, body).endswith(b"200 OK")
            time.sleep(6.0)  # past uvicorn's default keep-alive of 5 s
            assert ask(conn, body).endswith(b"200 OK")
        assert [r.body["messages"][0]["content"] for r in server.requests] == ["hi", "hi"]
