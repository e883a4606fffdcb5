"""Unit tier for the Slack adapter: argument parsing, forms, Block Kit limits, the Home trend. No I/O."""

from __future__ import annotations

import json

import pytest

from bot.engine.views import SessionView, TurnView
from bot.slack import blocks
from bot.slack.commands import InterviewRequest, Reply, parse_interview, parse_stats
from bot.slack.feedback import FeedbackActions
from bot.slack.home import home_view, sparkline, trend_text
from bot.slack.modals import correction_form, parse_correction, parse_start, start_form
from bot.store.models import SessionState, TurnState
from chains.bank import load_bank
from chains.schemas import Feedback
from tests.fakes import slack_limits


@pytest.fixture(scope="module")
def bank():  # type: ignore[no-untyped-def]
    return load_bank()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("backend technical senior 5", InterviewRequest("backend", "technical", "senior", 5)),
        ("senior backend", InterviewRequest("backend", "behavioral", "senior", None)),
        ("Product Management 2 technical", InterviewRequest("product-management", "technical", "mid", 2)),
    ],
)
def test_interview_arguments_in_any_order(bank, text: str, expected: InterviewRequest) -> None:  # type: ignore[no-untyped-def]
    assert parse_interview(text, bank, max_questions=10) == expected


def test_no_arguments_means_the_form_and_help_means_help(bank) -> None:  # type: ignore[no-untyped-def]
    assert parse_interview("  ", bank, 10) is None
    assert parse_interview("help", bank, 10) == Reply("help")


@pytest.mark.parametrize(
    "text,needle",
    [
        ("backend 99", "between 1 and 10"),
        ("backend 2 3", "two question counts"),
        ("technical senior", "Which role"),
        ("back", "Did you mean backend"),
    ],
)
def test_bad_interview_arguments_explain_themselves(bank, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    reply = parse_interview(text, bank, 10)
    assert isinstance(reply, Reply) and needle in reply.text and "Usage" in reply.text


def test_stats_days() -> None:
    assert parse_stats("") == 30
    assert parse_stats("7") == 7
    assert isinstance(parse_stats("0"), Reply)
    assert isinstance(parse_stats("last week"), Reply)
    assert isinstance(parse_stats("²"), Reply)  # a digit to str.isdigit, not to int()


def test_superscript_digits_get_usage_not_a_crash(bank) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(parse_interview("backend ²", bank, 10), Reply)


def _state(values: dict[str, str | None], selects: set[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for block_id, value in values.items():
        if block_id in selects:
            out[block_id] = {
                "value": {"type": "static_select", "selected_option": {"value": value} if value else None}
            }
        else:
            out[block_id] = {"value": {"type": "plain_text_input", "value": value}}
    return {"state": {"values": out}}


def test_start_form_round_trip(bank) -> None:  # type: ignore[no-untyped-def]
    form = start_form(bank, 10, 3, {"channel": "C1"})
    assert form["callback_id"] == "interview_start" and json.loads(form["private_metadata"]) == {
        "channel": "C1"
    }
    role_options = {o["value"] for o in form["blocks"][0]["element"]["options"]}
    assert role_options == set(bank.roles)
    view = _state(
        {"role": "frontend", "kind": "technical", "level": "junior", "questions": "4"},
        {"role", "kind", "level", "questions"},
    )
    assert parse_start(view, bank, 10) == InterviewRequest("frontend", "technical", "junior", 4)
    errors = parse_start(
        _state(
            {"role": "astronaut", "kind": "technical", "level": "junior", "questions": "40"},
            {"role", "kind", "level", "questions"},
        ),
        bank,
        10,
    )
    assert set(errors) == {"role", "questions"}  # type: ignore[arg-type]


FEEDBACK = Feedback(
    score=6,
    strengths=["clear structure"],
    weaknesses=["no metrics"],
    suggestions=["quantify impact"],
    criteria={"structure": 7},
    summary="Solid but vague.",
)


def test_correction_form_is_prefilled_and_parses_back() -> None:
    form = correction_form(FEEDBACK, {"turn": 5})
    by_id = {b["block_id"]: b for b in form["blocks"]}
    assert by_id["score"]["element"]["initial_option"]["value"] == "6"
    assert by_id["summary"]["element"]["initial_value"] == "Solid but vague."
    assert by_id["weaknesses"]["element"]["initial_value"] == "no metrics"
    view = _state(
        {
            "score": "8",
            "summary": "Good, add numbers.",
            "strengths": "clear structure\n• owns outcome",
            "weaknesses": "",
            "suggestions": "- quantify impact\n",
            "note": "  ",
        },
        {"score"},
    )
    corrected, note = parse_correction(view, FEEDBACK.criteria)  # type: ignore[misc]
    assert corrected.score == 8 and corrected.strengths == ["clear structure", "owns outcome"]
    assert corrected.weaknesses == [] and corrected.suggestions == ["quantify impact"]
    assert corrected.criteria == {"structure": 7} and note is None


def test_correction_form_errors_name_the_field() -> None:
    assert parse_correction(_state({"score": None, "summary": "x"}, {"score"})) == {
        "score": "Must be a whole number from 1 to 10."
    }
    assert "summary" in parse_correction(_state({"score": "5", "summary": "  "}, {"score"}))  # type: ignore[operator]
    nine = "\n".join(f"item {i}" for i in range(9))
    assert "strengths" in parse_correction(
        _state({"score": "5", "summary": "ok", "strengths": nine}, {"score"})
    )  # type: ignore[operator]


def _turn(feedback: Feedback | None, index: int = 0, follow_up_of: int | None = None) -> TurnView:
    return TurnView(
        id=11 + index,
        session_id=1,
        index=index,
        state=TurnState.graded,
        question="Tell me about X?",
        question_id="q",
        domain="apis",
        key_points=[],
        answer="a",
        answer_truncated=True,
        feedback=feedback,
        provider="offline",
        model_version=None,
        follow_up_of=follow_up_of,
    )


def _session(turns: list[TurnView]) -> SessionView:
    from datetime import UTC, datetime

    return SessionView(id=1, platform="slack", channel_id="C1", thread_id="1.0", candidate_user_id="U1",
                       role="backend", kind="technical", level="mid", planned_questions=3,
                       state=SessionState.awaiting_answer, created_at=datetime.now(UTC), turns=turns)


def test_feedback_blocks_carry_tally_buttons_and_respect_slack_limits() -> None:
    huge = FEEDBACK.model_copy(update={"summary": "word " * 1500, "strengths": ["s" * 900] * 8})
    turn = _turn(huge)
    text, body = blocks.feedback_message(turn, _session([turn]), {"up": 3, "down": 1})
    assert all(len(b["text"]["text"]) <= 3000 for b in body if b["type"] == "section")
    assert slack_limits.message_error({"text": text, "blocks": body}) is None
    rating, correct = body[-2], body[-1]
    assert rating["type"] == "context_actions" and correct["type"] == "actions"
    buttons = rating["elements"][0]
    assert buttons["type"] == "feedback_buttons" and buttons["action_id"] == "rate"
    assert buttons["positive_button"]["text"]["text"].endswith("· 3")
    assert buttons["negative_button"]["text"]["text"].endswith("· 1")
    assert (buttons["positive_button"]["value"], buttons["negative_button"]["value"]) == ("11:up", "11:down")
    assert [(e["action_id"], e["value"]) for e in correct["elements"]] == [
        ("try_again", "1:11"), ("correct_feedback", "11")]
    assert any("only its first part" in json.dumps(b) for b in body)
    assert "question 1 of 3" in text


def test_a_click_redraws_the_message_it_came_from_with_the_new_tally() -> None:
    turn = _turn(FEEDBACK)
    _, shown = blocks.feedback_message(turn, _session([turn]), {"up": 0, "down": 0})
    redrawn = blocks.with_tally(shown, turn.id, {"up": 2, "down": 1})
    assert redrawn is not None
    assert redrawn[:-2] == shown[:-2] and redrawn[-1] == shown[-1]  # all but the 👍 / 👎 as Slack showed it
    buttons = redrawn[-2]["elements"][0]
    labels = [buttons[side]["text"]["text"] for side in ("positive_button", "negative_button")]
    assert labels == ["👍 Helpful · 2", "👎 Not helpful · 1"]
    assert shown[-2]["elements"][0]["positive_button"]["text"]["text"] == "👍 Helpful · 0"  # payload untouched
    assert blocks.with_tally(shown, turn.id + 1, {"up": 1}) is None  # another turn's buttons: render afresh
    assert blocks.with_tally([], turn.id, {"up": 1}) is None


class _RacingEngine:
    """A second click's rating is stored while the first click's redraw is on its way."""

    def __init__(self) -> None:
        self.stored = {"up": 0, "down": 1, "mine": -1}

    def rate(self, turn_id: int, actor: object, value: int) -> dict:
        return {"tally": dict(self.stored)}  # what this click's own transaction read

    def tally(self, turn_id: int, actor: object) -> dict:
        return dict(self.stored)


class _Client:
    def __init__(self, engine: _RacingEngine) -> None:
        self.engine, self.updates = engine, []

    def chat_update(self, **params: object) -> dict:
        self.updates.append(params)
        self.engine.stored = {"up": 0, "others_up": 1, "down": 1, "mine": -1}  # the other click, stored meanwhile
        return {"ok": True}


def test_a_click_whose_redraw_lands_after_a_newer_rating_draws_again() -> None:
    turn = _turn(FEEDBACK)
    _, shown = blocks.feedback_message(turn, _session([turn]), {"up": 0, "down": 1})
    engine = _RacingEngine()
    client = _Client(engine)
    people = type("People", (), {"actor": lambda self, user, client=None, roles=False: object()})()
    body = {"user": {"id": "UCAND"}, "channel": {"id": "C1"}, "container": {"message_ts": "1.0"},
            "message": {"ts": "1.0", "text": "Feedback", "blocks": shown}}
    action = {"action_id": "rate", "value": f"{turn.id}:down"}
    FeedbackActions(engine, people).run_rating(body, action, client)  # type: ignore[arg-type]
    last = client.updates[-1]["blocks"][-2]["elements"][0]["positive_button"]["text"]["text"]
    assert len(client.updates) == 2 and last == "👍 Helpful · 0 (+1 from others)"


def test_rating_clicks_name_their_turn_and_side_native_or_legacy() -> None:
    assert blocks.parse_rating({"action_id": "rate", "value": "11:up"}) == (11, 1)
    assert blocks.parse_rating({"action_id": "rate", "value": "11:down"}) == (11, -1)
    assert blocks.parse_rating({"action_id": "rate_down", "value": "7"}) == (7, -1)  # a message from before
    for forged in ("11:sideways", "11", "x:up"):
        with pytest.raises(ValueError):
            blocks.parse_rating({"action_id": "rate", "value": forged})


def test_fake_slack_refuses_malformed_feedback_buttons() -> None:
    good = blocks.rating_block(5, {})
    assert slack_limits.block_error(good) is None
    no_value = json.loads(json.dumps(good))
    del no_value["elements"][0]["negative_button"]["value"]
    mrkdwn = json.loads(json.dumps(good))
    mrkdwn["elements"][0]["positive_button"]["text"]["type"] = "mrkdwn"
    a_button = {"type": "context_actions", "elements": [blocks.button("x", "x", "1")]}
    for bad in (no_value, mrkdwn, a_button, {"type": "context_actions", "elements": []}):
        assert slack_limits.block_error(bad) is not None, bad


def test_follow_up_keeps_its_parents_number() -> None:
    first, follow, second = _turn(FEEDBACK, 0), _turn(None, 1, follow_up_of=11), _turn(None, 2)
    session = _session([first, follow, second])
    assert session.question_label(follow) == "Follow-up to question 1"
    assert session.question_label(second) == "Question 2 of 3"  # not "3 of 3": the follow-up has no number
    text, _ = blocks.question_message(follow, session)
    assert text.startswith("Follow-up to question 1")


def test_home_trend() -> None:
    assert sparkline([1, 10]) == "▁█"
    history = [
        {
            "session_id": 2,
            "role": "backend",
            "kind": "technical",
            "level": "mid",
            "state": "completed",
            "created_at": "2030-01-02T10:00:00",
            "average_score": 7.0,
        },
        {
            "session_id": 1,
            "role": "backend",
            "kind": "technical",
            "level": "mid",
            "state": "ended",
            "created_at": "2030-01-01T10:00:00",
            "average_score": 4.5,
        },
    ]
    assert "up 2.5" in trend_text(history)
    view = home_view(history)
    assert view["type"] == "home" and "ended early" in json.dumps(view)
    assert "No graded answers yet" in json.dumps(home_view([]))


def test_the_manifest_matches_what_the_app_listens_for() -> None:
    from pathlib import Path

    import yaml

    from bot.slack.app import INTERVIEW_COMMAND, STATS_COMMAND
    from bot.slack.server import EVENTS_PATH

    manifest = yaml.safe_load((Path(__file__).parents[1] / "deploy" / "slack-manifest.yml").read_text())
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {INTERVIEW_COMMAND, STATS_COMMAND}
    settings = manifest["settings"]
    urls = [c["url"] for c in commands.values()]
    urls += [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    events = {"app_home_opened", "message.channels", "message.groups", "message.im", "assistant_thread_started"}
    assert events <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "commands",
        "chat:write",
        "channels:history",
        "groups:history",
        "files:write",
        "usergroups:read",
        "assistant:write",
        "im:history",
    } <= scopes
    assert manifest["features"]["assistant_view"]["assistant_description"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert 174 <= len(manifest["display_information"]["long_description"]) <= 4000


PHISH = "<!channel> Session expired: <https://evil.example/login|re-authenticate> & [log in](https://evil.example/x)"


def _inert(text: str) -> None:
    """No Slack control sequence survives: no <!channel>, no <url|label>, no <@U…>."""
    assert "<!" not in text and "<http" not in text and "<@" not in text and "](" not in text
    assert "&lt;!channel&gt;" in text or "…" in text


def _mrkdwn(body: list[dict]) -> list[str]:  # type: ignore[type-arg]
    texts = []
    for block in body:
        if "text" in block and block["text"].get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return texts


def test_model_written_feedback_cannot_ping_or_disguise_a_link() -> None:
    hostile = FEEDBACK.model_copy(
        update={
            "summary": PHISH,
            "strengths": [PHISH],
            "weaknesses": ["<@U0123456789> says hi"],
            "suggestions": [PHISH],
            "outline": [PHISH],
            "criteria": {"<!here>": 5},
        }
    )
    turn = _turn(hostile)
    text, body = blocks.feedback_message(turn, _session([turn]))
    _inert(text)
    joined = "\n".join(_mrkdwn(body))
    assert "<" not in joined.replace("<@", "")  # no raw angle bracket at all in model text
    assert "&lt;!channel&gt;" in joined and "&lt;!here&gt;" in joined and "&lt;@U0123456789&gt;" in joined
    assert "&lt;https://evil.example/login|re-authenticate&gt;" in joined
    assert "log in (https://evil.example/x)" in joined  # a Markdown masked link is spelled out
    assert "&amp;" in joined
    assert "*Strengths*" in joined and "*Feedback on question 1 of 3*" in joined  # the bot's formatting stays
    # a recruiter's correction and note are escaped the same way
    text, body = blocks.correction_message(turn, _session([turn]), hostile, "U9RECRUIT", PHISH)
    _inert(text)
    joined = "\n".join(_mrkdwn(body))
    assert "<@U9RECRUIT>" in joined  # the bot's own mention of the recruiter still works
    assert "<!channel>" not in joined and "<https://" not in joined


def test_model_written_question_and_report_are_escaped() -> None:
    turn = _turn(None).__class__(**{**_turn(None).__dict__, "question": PHISH, "domain": "<!everyone>"})
    text, body = blocks.question_message(turn, _session([turn]))
    _inert(text)
    joined = "\n".join(_mrkdwn(body))
    assert "<!channel>" not in joined and "<!everyone>" not in joined and "<https://" not in joined
    assert "\n>&lt;!channel&gt; Session expired" in joined  # still a quote, now inert
    from chains.schemas import SessionReport, TurnSummary

    report = SessionReport(
        session_id=1, role="backend", kind="technical", level="mid",
        turns=[TurnSummary(index=1, question=PHISH, domain="<!here>", score=5, summary=PHISH)],
        average_score=5.0, answered=1, skipped=0, strengths=[PHISH], weaknesses=[PHISH], next_steps=[PHISH],
        summary=PHISH,
    )
    text, body = blocks.report_message(report)
    joined = "\n".join(_mrkdwn(body))
    assert "<!" not in joined and "<https://" not in joined and "&lt;!channel&gt;" in joined
    assert "*Next steps*" in joined


def test_home_history_is_escaped() -> None:
    history = [{"session_id": 1, "role": "<!channel>", "kind": "technical", "level": "mid", "state": "ended",
                "created_at": "2030-01-01T10:00:00", "average_score": None}]
    dumped = json.dumps(home_view(history))
    assert "<!channel>" not in dumped and "&lt;!channel&gt;" in dumped


def test_a_response_url_never_reaches_the_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_sdk's webhook client logs the full URL when it retries; the URL is a credential."""
    import logging

    from bot.slack.interviews import webhook_notifier
    from bot.slack.web import redact_log_secrets

    redact_log_secrets()
    secret = "https://hooks.slack.com/commands/T0TEAM/1234567/s3cr3tT0k3n"
    for name in ("HTTPS_PROXY", "https_proxy"):  # a proxy that refuses: the SDK fails, retries and logs
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    caplog.set_level(logging.DEBUG)
    webhook_notifier(secret)("Done")
    logging.getLogger("slack_bolt.App").debug("body: response_url=%s&text=x", secret.replace("/", "%2F"))
    try:
        raise RuntimeError(f"could not post to {secret}")
    except RuntimeError:
        logging.getLogger("bot.slack").exception("failed")
    assert caplog.records, "the failure was logged"
    handler = logging.StreamHandler()
    shown = "\n".join(handler.format(record) for record in caplog.records)
    assert "s3cr3tT0k3n" not in shown and "1234567" not in shown
    assert "[redacted response_url]" in shown
    assert any("retry" in record.getMessage() for record in caplog.records), "the SDK logged its retry"


def test_forms_show_model_text_only_as_plain_text() -> None:
    """Modals prefill model text into plain_text inputs, which Slack never formats: nothing to escape,
    and escaping would hand the recruiter '&lt;' to save back."""
    hostile = FEEDBACK.model_copy(update={"summary": PHISH, "strengths": [PHISH]})
    form = correction_form(hostile, {"turn": 1})
    assert "mrkdwn" not in json.dumps(form)
    summary = next(b for b in form["blocks"] if b["block_id"] == "summary")
    assert summary["element"]["initial_value"] == PHISH  # exactly what the model wrote, inert


def test_the_largest_feedback_a_model_may_write_stays_within_slacks_limits() -> None:
    from tests.fakes import slack_limits

    hostile = "<!channel> <https://evil.example|x> & " * 60  # escaping grows every character of it
    feedback = Feedback(score=5, strengths=[hostile[:2000]] * 8, weaknesses=[hostile[:2000]] * 8,
                        suggestions=[hostile[:2000]] * 8, criteria={f"c{i}": 5 for i in range(20)},
                        summary=hostile[:2000], outline=[hostile[:600]] * 8)
    turn = _turn(feedback)
    text, shown = blocks.feedback_message(turn, _session([turn]))
    assert slack_limits.message_error({"text": text, "blocks": shown}) is None
    question_text, question_blocks = blocks.question_message(turn, _session([turn]))
    assert slack_limits.message_error({"text": question_text, "blocks": question_blocks}) is None


def test_the_fake_refuses_what_slack_refuses() -> None:
    from tests.fakes import slack_limits

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert slack_limits.message_error({"blocks": [section] * 51})["error"] == "invalid_blocks"
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert slack_limits.message_error({"blocks": [long]})["error"] == "invalid_blocks"
    assert slack_limits.message_error({"text": "x" * 40_001})["error"] == "msg_too_long"
    modal = {"title": {"type": "plain_text", "text": "x" * 25}, "blocks": []}
    assert slack_limits.view_error({"trigger_id": "1.2.abc", "view": modal}, modal=True)["error"] \
        == "invalid_arguments"
    assert slack_limits.view_error({"trigger_id": "bogus", "view": {}}, modal=True)["error"] \
        == "invalid_trigger_id"
    assert slack_limits.message_error({"text": "ok", "blocks": [section] * 50}) is None


def test_the_fake_web_api_answers_slacks_errors_through_the_real_sdk() -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from tests.fakes.slack_api import FakeSlackAPI

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    with FakeSlackAPI() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url)
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C0001", text="x", blocks=[section] * 51)
        assert refused.value.response["error"] == "invalid_blocks"
        with pytest.raises(SlackApiError) as expired:
            client.views_open(trigger_id="made-up", view={"type": "modal", "title": {"type": "plain_text",
                                                                                      "text": "x"}, "blocks": []})
        assert expired.value.response["error"] == "invalid_trigger_id"
        assert client.chat_postMessage(channel="C0001", text="x", blocks=[section])["ok"]


def test_the_fake_refuses_long_option_text_and_threads_that_do_not_exist() -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from bot.slack.modals import start_form
    from chains.bank import load_bank
    from tests.fakes import slack_limits
    from tests.fakes.slack_api import FakeSlackAPI

    def select(label: str) -> dict:
        option = {"text": {"type": "plain_text", "text": label}, "value": "v"}
        return {"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "Role"},
                "element": {"type": "static_select", "action_id": "a", "options": [option]}}

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "x"}}
    assert slack_limits.view_error({"trigger_id": "1.2.abc", "view": {**modal, "blocks": [select("x" * 76)]}},
                                   modal=True)["error"] == "invalid_blocks"
    assert slack_limits.view_error({"trigger_id": "1.2.abc", "view": {**modal, "blocks": [select("x" * 75)]}},
                                   modal=True) is None
    # the bot's own start form, with every role the bank knows, fits
    form = start_form(load_bank(), 10, 5, {})
    assert slack_limits.view_error({"trigger_id": "1.2.abc", "view": form}, modal=True) is None

    with FakeSlackAPI() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url)
        parent = client.chat_postMessage(channel="C0001", text="parent")["ts"]
        assert client.chat_postMessage(channel="C0001", text="in thread", thread_ts=parent)["ok"]
        for channel, thread_ts in (("C0001", "1.000999"), ("C0OTHER", parent)):  # unknown ts, other channel
            with pytest.raises(SlackApiError) as missing:
                client.chat_postMessage(channel=channel, text="x", thread_ts=thread_ts)
            assert missing.value.response["error"] == "thread_not_found"
        with pytest.raises(SlackApiError) as missing:
            client.chat_update(channel="C0001", ts=parent, text="x", thread_ts="1.000999")
        assert missing.value.response["error"] == "thread_not_found"
        # a person's message delivered to the app may start a thread
        person = {"type": "message", "channel": "C0001", "user": "UCAND", "text": "hi", "ts": "1700000000.000100"}
        slack.seen(person)  # what SlackSender.event does for every event it delivers
        assert client.chat_postMessage(channel="C0001", text="x", thread_ts="1700000000.000100")["ok"]


def test_user_text_echoed_in_error_replies_is_inert(bank) -> None:  # type: ignore[no-untyped-def]
    role = parse_interview("<!channel> <https://evil.example|login>", bank, 10)
    assert isinstance(role, Reply) and "<!channel>" not in role.text and "&lt;!channel&gt;" in role.text
    days = parse_stats("<!here>")
    assert isinstance(days, Reply) and "<!here>" not in days.text


def test_a_full_worker_pool_says_busy_at_once_instead_of_queueing() -> None:
    """The pool's queue is bounded: the request beyond it is acknowledged, not run, and told busy."""
    import threading
    from types import SimpleNamespace

    from bot.slack.app import BUSY, BoundedPool, after_ack

    pool = BoundedPool(1, limit=1)
    release, ran, acked, said = threading.Event(), [], [], []
    listener = after_ack(pool, lambda ack: ack(), lambda body: (release.wait(10), ran.append(body["n"])))

    def request(n: int) -> SimpleNamespace:
        return SimpleNamespace(
            ack=lambda: acked.append(n), body={"type": "block_actions", "response_url": "x", "n": n},
            respond=lambda **message: said.append((n, message["text"])),
        )

    listener(request(1))  # takes the only slot
    listener(request(2))  # refused: the queue is full
    release.set()
    pool.shutdown(wait=True)
    assert acked == [1, 2] and ran == [1] and said == [(2, BUSY)]
