"""The curated question bank: schema, coverage, role resolution and diverse selection."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from bot.cli import app
from chains.bank import load_bank
from chains.bank.loader import UnknownRole
from chains.providers.base import QuestionRequest
from chains.providers.offline import pick_question
from chains.schemas import KINDS, LEVELS


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
])
def test_roles_resolve_from_what_people_type(typed: str, expected: str) -> None:
    assert load_bank().resolve_role(typed) == expected


def test_unknown_role_suggests_the_closest() -> None:
    with pytest.raises(UnknownRole) as caught:
        load_bank().resolve_role("bakend")
    assert "backend" in caught.value.suggestions
    assert "Did you mean backend" in str(caught.value)


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
