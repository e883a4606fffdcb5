"""Pieces of the Discord adapter without a network: embeds within Discord's limits, who an actor is,
where the REST client points. (The correction form's parsing is the engine's: tests/test_engine.py.)"""

from __future__ import annotations

import discord
from discord.http import Route

from bot.discord import render
from bot.discord.actors import actor_of
from bot.discord.client import DEFAULT_API_URL, intents, use_api_url
from bot.engine import Authorizer
from bot.store.models import UserRole
from chains.schemas import Feedback, SessionReport, TurnSummary
from tests.fakes import discord_limits
from tests.fakes.discord_api import FakeDiscord


def test_clip_marks_the_cut_and_leaves_short_text_alone() -> None:
    assert render.clip("short", 10) == "short"
    assert render.clip("x" * 10, 10) == "x" * 10
    clipped = render.clip("word " * 100, 50)
    assert len(clipped) <= 50 and clipped.endswith("…")


def test_the_largest_feedback_and_report_fit_discords_embed_limits() -> None:
    huge = Feedback(
        score=2,
        strengths=["s" * 900] * 8,
        weaknesses=["w" * 900] * 8,
        suggestions=["g" * 900] * 8,
        criteria={f"criterion {i}": 5 for i in range(20)},
        summary="y" * 2000,
        outline=["*[o](https://evil.example)_" * 30] * 8,
    )
    embed = render.feedback_embed(huge, title="t" * 400, footer="f" * 3000)
    assert len(embed) <= 6000 and len(embed.fields) <= 25
    assert discord_limits.form_error({"embeds": [embed.to_dict()]}) is None
    assert all(len(field.value or "") <= 1024 for field in embed.fields)
    assert len(embed.title or "") <= 256 and embed.colour == discord.Colour.red()

    turns = [
        TurnSummary(index=i, question="q" * 500, domain="d" * 60, score=5, summary="s") for i in range(1, 31)
    ]
    report = SessionReport(
        session_id=1,
        role="backend",
        kind="technical",
        level="senior",
        turns=turns,
        average_score=7.4,
        answered=30,
        skipped=0,
        strengths=["a" * 1500] * 3,
        weaknesses=["b" * 1500] * 3,
        next_steps=["c" * 1500] * 3,
        summary="z" * 3000,
    )
    embed = render.report_embed(report)
    assert len(embed) <= 6000 and all(len(field.value or "") <= 1024 for field in embed.fields)
    assert embed.colour == discord.Colour.green()


def test_stats_embed_splits_the_summary_and_points_at_the_chart() -> None:
    embed = render.stats_embed("Mockingbird stats, last 7 days\nSatisfaction: 80%", "chart.png")
    assert embed.title == "Mockingbird stats, last 7 days" and embed.description == "Satisfaction: 80%"
    assert embed.image.url == "attachment://chart.png"


def test_a_members_roles_make_them_a_recruiter_through_the_engines_authorizer() -> None:
    fake = FakeDiscord()  # used for its payloads only; no server is started
    state = discord.Client(intents=discord.Intents.default())._connection
    guild = discord.Guild(data=fake.guild_payload(), state=state)  # type: ignore[arg-type]
    member = discord.Member(
        data=fake.member(fake.user("rita"), roles=(fake.recruiter_role_id,)),  # type: ignore[arg-type]
        guild=guild,
        state=state,
    )
    actor = actor_of(member)
    assert (actor.platform, actor.user_id, actor.display_name) == ("discord", str(member.id), "Rita")
    assert fake.recruiter_role_id in actor.groups
    authz = Authorizer([f"discord:{fake.recruiter_role_id}"], [f"discord:{member.id}"])
    assert authz.roles(actor) == {UserRole.candidate, UserRole.recruiter, UserRole.team_lead}
    # the same person as a plain user (outside a server) has no roles: only the user-id entry applies
    user = discord.User(state=state, data=fake.user("rita", str(member.id)))  # type: ignore[arg-type]
    assert actor_of(user).groups == frozenset()
    assert authz.roles(actor_of(user)) == {UserRole.candidate, UserRole.team_lead}


def test_the_api_url_is_explicit_and_process_wide() -> None:
    before = Route.BASE
    try:
        assert use_api_url("http://127.0.0.1:9/api/v10/") == "http://127.0.0.1:9/api/v10"
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert use_api_url(None) == DEFAULT_API_URL
    finally:
        Route.BASE = before


def test_the_bot_asks_for_exactly_the_intents_it_needs() -> None:
    wanted = intents()
    assert wanted.message_content and wanted.guilds and wanted.guild_messages
    assert not wanted.members and not wanted.presences  # the other privileged intents stay off


def test_model_written_masked_links_and_markdown_are_neutralised() -> None:
    phish = "Session expired: [re-authenticate](https://evil.example/login) **now** @everyone <@123456789012345678>"
    feedback = Feedback(
        score=5, strengths=[phish], weaknesses=["# Heading\n> fake quote"], suggestions=[phish],
        outline=[phish], criteria={"[x](https://evil.example)": 5}, summary=phish,
    )
    embed = render.feedback_embed(feedback, title="Feedback", footer="f")
    shown = [embed.description or "", *(field.value or "" for field in embed.fields)]
    for text in shown:
        assert "](" not in text  # no masked link survives anywhere Discord renders Markdown
    assert "re-authenticate (https://evil.example/login)" in embed.description  # the address is visible
    assert r"\*\*now\*\*" in embed.description
    weaknesses = next(f.value for f in embed.fields if f.name == "Weaknesses")
    assert r"\# Heading" in weaknesses and r"\> fake quote" in weaknesses
    report = SessionReport(
        session_id=1, role="backend", kind="technical", level="mid",
        turns=[TurnSummary(index=1, question="q", domain="[d](https://evil.example)", score=5, summary="s")],
        average_score=5.0, answered=1, skipped=0, strengths=[phish], weaknesses=[], next_steps=[phish],
        summary=phish,
    )
    embed = render.report_embed(report)
    assert all("](" not in (text or "") for text in [embed.description, *(f.value for f in embed.fields)])
    assert render.md("[[a](https://x)](https://evil.example)").count("](") == 0  # nested masks too


def test_the_fake_refuses_what_discord_refuses() -> None:
    assert discord_limits.form_error({"content": "x" * 2001})["code"] == 50035
    assert discord_limits.form_error({"embeds": [{"description": "x" * 4097}]})["code"] == 50035
    assert discord_limits.form_error({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]})["code"] == 50035
    assert discord_limits.form_error({"embeds": [{"description": "x" * 3500}, {"description": "y" * 3500}]})
    assert discord_limits.form_error({"content": "ok", "embeds": [{"title": "t", "description": "d"}]}) is None
    with FakeDiscord() as fake:
        import json as json_
        import urllib.error
        import urllib.request

        def post(path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
            request = urllib.request.Request(fake.api_url + path, data=json_.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json", **headers})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status, json_.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                return exc.code, json_.loads(exc.read())

        assert post(f"/channels/{fake.channel_id}/messages", {"content": "hi"}, {})[0] == 401
        assert post(f"/channels/{fake.channel_id}/messages", {"content": "hi"}, {"Authorization": "Bot t"})[0] == 200
        answer = {"type": 4, "data": {"content": "hello"}}
        assert post("/interactions/1/tok/callback", answer, {})[0] == 200
        status, body = post("/interactions/1/tok/callback", answer, {})
        assert (status, body["code"]) == (400, 40060)
