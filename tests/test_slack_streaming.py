"""Streamed feedback end to end (#20 item 3): signed Slack requests, each streaming provider (OpenAI,
Gemini, TGI) streaming from its fake server through its real SDK, slack_sdk's ``chat_stream`` against
the fake Slack's stream methods."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.slack import streaming
from bot.store.db import Database
from bot.store.models import Turn
from tests.fakes.llm_env import KEYS, env_for, fake_for
from tests.fakes.llm_server import MALFORMED, VALID, FakeLLMServer, Recorded, Reply, canned, task_of
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import TEAM, Call, FakeSlackAPI
from tests.fakes.slack_harness import CHANNEL, RunningBot, action_ids, message_ts, running_bot

CAND = "UCAND"
STREAMING = ["openai", "gemini", "tgi"]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


def _streamed_answer(
    fake: FakeSlackAPI, db: Database, llm: FakeLLMServer, provider: str = "openai"
) -> tuple[RunningBot, str, Call]:
    overrides = {"LLM_PROVIDER": provider, "LLM_FALLBACKS": "", "LLM_MAX_RETRIES": 0,
                 **env_for(provider, llm.base_url)}  # type: ignore[attr-defined]
    with running_bot(fake, db, **overrides) as bot:
        thread = bot.start_interview(CAND, "backend technical mid 2")
        shown = bot.answer(CAND, thread)
        fake.wait_for(lambda: any(c.params["text"].startswith("Question 2 of 2") for c in bot.thread_posts(thread)),
                      what="question 2")
    return bot, thread, shown


def _check_stream_became_feedback(fake: FakeSlackAPI, thread: str, shown: Call) -> str:
    """The one stream in the thread was stopped, then rewritten as the Block Kit feedback; returns its text."""
    [start] = fake.calls_to("chat.startStream", ok=True)
    assert start.params["thread_ts"] == thread
    assert (start.params["recipient_user_id"], start.params["recipient_team_id"]) == (CAND, TEAM)
    ts = str(start.response["ts"])
    [stop] = fake.calls_to("chat.stopStream", ok=True)
    assert shown.method == "chat.update" and message_ts(shown) == ts and stop.at <= shown.at
    assert shown.params["text"].startswith("Feedback") and "rate" in action_ids(shown)[0].lower()
    message = fake.message(CHANNEL, ts)
    assert message.stream == "stopped" and message.blocks == shown.params["blocks"] and not message.deleted
    live = fake.thread(CHANNEL, thread)
    assert not any("Thinking" in m.text for m in live), "the placeholder stays beside the stream"
    assert not any(m.stream == "streaming" for m in live)
    return "".join(message.streamed)


@pytest.mark.parametrize("provider", STREAMING)
def test_a_stream_turns_into_the_final_feedback(
    fake: FakeSlackAPI, sqlite_db: Database, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "FLUSH_INTERVAL_S", 0.0)  # every new piece sent at once, to see the pieces
    with fake_for(provider) as llm:
        llm.chunk_chars = 8
        _, thread, shown = _streamed_answer(fake, sqlite_db, llm, provider)
    streamed = _check_stream_became_feedback(fake, thread, shown)
    feedback = canned("feedback")
    assert streamed.startswith("Score: 7/10\nStrengths:\n• Clear structure.")
    assert feedback["summary"] in streamed  # the whole readable feedback arrived before the final message
    assert len(fake.calls_to("chat.appendStream", ok=True)) >= 2  # it came in pieces, as the model wrote
    assert feedback["summary"] in str(shown.params["blocks"])


@pytest.mark.parametrize("provider", STREAMING)
def test_a_stream_that_breaks_into_invalid_json_ends_as_valid_feedback(
    fake: FakeSlackAPI, sqlite_db: Database, provider: str
) -> None:
    def broken_when_streamed(request: Recorded) -> Reply:
        return MALFORMED if llm.streamed(request) else VALID  # the repair call is not streamed

    with fake_for(provider, default=broken_when_streamed) as llm:
        _, thread, shown = _streamed_answer(fake, sqlite_db, llm, provider)
        asked = [llm.streamed(r) for r in llm.requests]
    streamed = _check_stream_became_feedback(fake, thread, shown)
    summary = canned("feedback")["summary"]
    assert streamed and summary not in streamed  # the preview stopped where the JSON broke...
    assert summary in str(shown.params["blocks"])  # ...and the repaired feedback replaced it
    assert True in asked and False in asked
    with sqlite_db.session() as session:
        graded = session.scalars(select(Turn).where(Turn.feedback.is_not(None))).all()
    assert [(t.repaired, t.valid_first_try, t.provider) for t in graded] == [(True, False, provider)]


def test_a_refused_stream_leaves_the_feedback_posted_as_without_one(
    fake: FakeSlackAPI, sqlite_db: Database
) -> None:
    fake.fail("chat.startStream", "ratelimited")
    with FakeOpenAI(api_key=KEYS["openai"]) as llm:
        _, thread, shown = _streamed_answer(fake, sqlite_db, llm)
    assert fake.count("chat.startStream") == 1 and not fake.calls_to("chat.appendStream")
    assert shown.method == "chat.update" and shown.params["text"].startswith("Feedback")  # the placeholder
    assert canned("feedback")["summary"] in str(shown.params["blocks"])


def test_text_is_sent_at_once_then_at_most_once_per_interval_and_the_rest_with_the_stop(fake: FakeSlackAPI) -> None:
    from slack_sdk import WebClient

    clock = [100.0]
    client = WebClient(token="xoxb-test-token", base_url=fake.url)
    parent = str(client.chat_postMessage(channel=CHANNEL, text="parent")["ts"])
    stream = streaming.FeedbackStream(client, CHANNEL, parent, user=CAND, team=TEAM, clock=lambda: clock[0])
    written = ["Score: 7/10", "Score: 7/10\nStrengths:", "Score: 7/10\nStrengths:\n• Clear", "... <rewritten>"]

    def write(text: str, at: float) -> list[str]:
        clock[0] = at
        stream.text(text)
        return [c.method for c in fake.calls if c.method.startswith("chat.") and "Stream" in c.method]

    assert write(written[0], 100.0) == ["chat.startStream"]  # the first words at once
    assert write(written[1], 100.2) == ["chat.startStream"]  # within the interval: kept
    assert write(written[2], 100.2 + streaming.FLUSH_INTERVAL_S) == ["chat.startStream", "chat.appendStream"]
    assert write(written[2] + " structure.", 100.9) == ["chat.startStream", "chat.appendStream"]
    assert write(written[3], 102.0) == ["chat.startStream", "chat.appendStream"]  # a rewrite is left to the end
    assert stream.finish("Feedback", [])
    assert [c.method for c in fake.calls[-2:]] == ["chat.stopStream", "chat.update"]
    message = fake.message(CHANNEL, str(stream.ts))
    assert message.streamed == ["Score: 7/10", "\nStrengths:\n• Clear", " structure."]  # whole before the rewrite
    assert message.text == "Feedback"


def test_the_fake_refuses_stream_calls_slack_refuses(fake: FakeSlackAPI) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token="xoxb-test-token", base_url=fake.url)
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]

    def refused(call: object) -> str:
        with pytest.raises(SlackApiError) as caught:
            call()  # type: ignore[operator]
        return str(caught.value.response["error"])

    assert refused(lambda: client.chat_startStream(channel=CHANNEL, thread_ts=parent)) == "invalid_arguments"
    assert refused(lambda: client.chat_startStream(channel=CHANNEL, thread_ts="1.000001", recipient_user_id=CAND,
                                                   recipient_team_id=TEAM)) == "thread_not_found"
    stream = client.chat_stream(channel=CHANNEL, thread_ts=parent, recipient_user_id=CAND, recipient_team_id=TEAM,
                                buffer_size=1)
    stream.append(markdown_text="Score: 7/10")
    assert stream.ts is not None
    assert refused(lambda: client.chat_update(channel=CHANNEL, ts=stream.ts, text="x")) == "cant_update_message"
    assert refused(lambda: client.chat_appendStream(channel=CHANNEL, ts=stream.ts)) == "no_text"
    stream.stop(markdown_text=" and more")
    assert fake.message(CHANNEL, stream.ts).text == "Score: 7/10 and more"
    appending = lambda: client.chat_appendStream(channel=CHANNEL, ts=stream.ts, markdown_text="late")  # noqa: E731
    assert refused(appending) == "message_not_in_streaming_state"
    assert refused(lambda: client.chat_stopStream(channel=CHANNEL, ts="9.000009")) == "message_not_found"
    client.chat_update(channel=CHANNEL, ts=stream.ts, text="Feedback", blocks=[])  # once stopped, it can be rewritten


def test_a_stream_whose_grading_fails_ends_as_the_notice(fake: FakeSlackAPI, sqlite_db: Database) -> None:
    overrides = {"LLM_PROVIDER": "openai", "LLM_FALLBACKS": "", "LLM_MAX_RETRIES": 0}

    def broken_feedback(request: Recorded) -> Reply:  # every feedback reply, the repair's too
        return MALFORMED if task_of(llm.schema_of("chat", request.body)) == "feedback" else VALID

    with FakeOpenAI(api_key=KEYS["openai"], default=broken_feedback) as llm, \
            running_bot(fake, sqlite_db, **overrides, **env_for("openai", llm.base_url)) as bot:
        thread = bot.start_interview(CAND, "backend technical mid 2")
        bot.sender.reply(CAND, CHANNEL, thread, "I would add an index and check the plan with EXPLAIN.")
        [start] = fake.wait_calls("chat.startStream", ok=True)
        ts = str(start.response["ts"])
        fake.wait_for(lambda: "couldn't get feedback" in fake.message(CHANNEL, ts).text, what="the notice")
    message = fake.message(CHANNEL, ts)
    assert message.stream == "stopped" and "retry" in message.text and not message.deleted
    assert not any("Thinking" in m.text for m in fake.thread(CHANNEL, thread))
