"""The curated question bank: schema, coverage, role resolution and diverse selection."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.console.render import roles_listing
from chains.bank import Bank, RoleSpec, load_bank
from chains.bank.loader import AmbiguousRole, UnknownRole
from chains.contract import QuestionRequest
from chains.providers.offline import pick_question
from chains.schemas import KINDS, LEVELS, Question


def test_bank_is_large_curated_and_covers_every_role_kind_and_level() -> None:
    bank = load_bank()
    assert len(bank.questions) >= 400
    assert len(bank.roles) >= 12
    for role in bank.roles:
        counts = Counter((q.kind, q.level) for q in bank.questions if q.role == role)
        for kind in KINDS:
            for level in LEVELS:
                assert counts[(kind, level)] >= 3, (role, kind, level)
        assert len({q.domain for q in bank.questions if q.role == role}) >= 4, role
    assert all(len(q.key_points) >= 2 for q in bank.questions)
    assert len({q.text.lower() for q in bank.questions}) == len(bank.questions), "duplicate question texts"


@pytest.mark.parametrize(("typed", "expected"), [
    ("backend", "backend"), ("Backend Engineer", "backend"), ("SRE", "devops-sre"),
    ("product manager", "product-management"), ("data_science", "data-science"),
    # what newcomers type: a title word too many, a generic title, a short form
    ("sre engineer", "devops-sre"), ("SRE Engineer.", "devops-sre"), ("software engineer", "backend"),
    ("Software Developer", "backend"), ("machine learning", "ml-engineering"), ("pm", "product-management"),
    ("PM", "product-management"), ("ux designer", "design"), ("UX-designer", "design"),
    ("account executive", "sales"), ("back-end dev", "backend"), ("frontend developer", "frontend"),
    # typos
    ("bakend", "backend"), ("prodcut manager", "product-management"), ("machine lerning", "ml-engineering"),
    ("sre enginer", "devops-sre"), ("acount executive", "sales"), ("ux desinger", "design"),
    ("Machine-Lerning Engineer", "ml-engineering"),
])
def test_roles_resolve_from_what_people_type(typed: str, expected: str) -> None:
    assert load_bank().resolve_role(typed) == expected


def test_an_unknown_role_names_the_closest_and_every_valid_role() -> None:
    bank = load_bank()
    with pytest.raises(UnknownRole) as caught:
        bank.resolve_role("back")  # too far from any name to guess, close enough to suggest
    assert caught.value.suggestions == ["backend"]
    assert "Did you mean backend?" in str(caught.value)
    with pytest.raises(UnknownRole) as caught:
        bank.resolve_role("astronaut")
    assert caught.value.suggestions == []
    assert str(caught.value) == f"Unknown role 'astronaut'. Roles: {', '.join(sorted(bank.roles))}."
    for not_a_typo in ("backend ²", "backend 2x", ""):  # letters only are guessed; digits are not a typo
        with pytest.raises(UnknownRole):
            bank.resolve_role(not_a_typo)


def _bank(*roles: tuple[str, list[str]]) -> Bank:
    return Bank([RoleSpec(role=role, title=role.title(), aliases=aliases, questions=[Question(
        id=f"{role}-1", role=role, domain="general", kind="technical", level="mid",
        text="A question that is long enough?", key_points=["a", "b"])]) for role, aliases in roles])


def test_a_name_two_roles_share_is_refused_with_both_never_guessed() -> None:
    bank = _bank(("alpha", ["team lead", "data engineer"]), ("beta", ["tech lead", "data developer"]))
    with pytest.raises(AmbiguousRole) as caught:
        bank.resolve_role("data")  # both roles' names without their title word
    assert caught.value.suggestions == ["alpha", "beta"]
    with pytest.raises(AmbiguousRole) as caught:
        bank.resolve_role("teah lead")  # one typo from each
    assert "could be alpha or beta" in str(caught.value)
    assert bank.resolve_role("team lead") == "alpha" and bank.resolve_role("tech lead") == "beta"


def test_resolution_does_not_depend_on_the_order_of_the_files() -> None:
    specs = list(load_bank().roles.values())
    forward, backward = Bank(specs), Bank(specs[::-1])
    for typed in ("bakend", "prodcut manager", "sales manager", "ui", "sde", "data engineer", "mle"):
        outcomes = []
        for bank in (forward, backward):
            try:
                outcomes.append(bank.resolve_role(typed))
            except UnknownRole as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1], typed


def test_a_name_claimed_by_two_role_files_is_rejected_at_load() -> None:
    with pytest.raises(ValueError, match="'PM' is used by both alpha and beta"):
        _bank(("alpha", ["pm"]), ("beta", ["PM"]))


def test_bank_roles_prints_every_alias_whole_on_a_narrow_terminal() -> None:
    bank = load_bank()
    screen = io.StringIO()
    Console(file=screen, width=40).print(roles_listing(bank))
    shown = screen.getvalue()
    assert "…" not in shown and max(len(line.rstrip()) for line in shown.splitlines()) <= 40
    # alias lines are indented and comma-separated: each name whole on one line, never cut or split
    names = {name.rstrip(",") for line in shown.splitlines() if line.startswith("  ")
             for name in line.strip().split(", ")}
    for role, spec in bank.roles.items():
        assert f"{role}  {spec.title.split()[0]}" in shown, role
        assert set(spec.aliases) - {spec.role, spec.title} <= names, role

    env = {**os.environ, "COLUMNS": "40"}
    result = subprocess.run([sys.executable, "-m", "bot", "bank", "roles"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown  # the command is the same rendering at the terminal's width
    listed = json.loads(CliRunner().invoke(app, ["bank", "roles", "--json"]).stdout)
    assert "software engineer" in listed["backend"]["aliases"] and set(listed) == set(bank.roles)


def test_selection_never_repeats_and_spreads_over_domains() -> None:
    bank = load_bank()
    asked: list = []
    for position in range(8):
        request = QuestionRequest(role="backend", kind="technical", level="mid",
                                  asked_ids=tuple(q.id for q in asked),
                                  asked_domains=tuple(q.domain for q in asked), seed=position)
        asked.append(pick_question(bank, request))
    assert len({q.id for q in asked}) == 8
    domains = Counter(q.domain for q in asked[:4])
    assert max(domains.values()) == 1, f"first four questions should cover four domains: {domains}"
    assert all(q.role == "backend" and q.kind == "technical" for q in asked)


def test_selection_prefers_the_requested_level() -> None:
    bank = load_bank()
    question = pick_question(bank, QuestionRequest(role="qa", kind="behavioral", level="senior", seed=1))
    assert question.level == "senior"


def test_bank_stats_json_counts_per_role_kind_and_level() -> None:
    result = CliRunner().invoke(app, ["bank", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["total"] == len(load_bank().questions)
    assert set(stats["by_kind"]) == set(KINDS)
    backend = stats["per_role"]["backend"]
    assert backend["total"] == sum(v for k, v in backend.items() if k != "total")


def test_a_broken_role_file_is_rejected_with_its_name(tmp_path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "role: broken\ntitle: Broken\nquestions:\n  - id: b-1\n    role: broken\n    domain: x\n"
        "    kind: technical\n    level: expert\n    text: 'A question that is long enough?'\n"
        "    key_points: [a, b]\n")
    with pytest.raises(ValueError, match="broken.yaml"):
        load_bank.__wrapped__(tmp_path)
