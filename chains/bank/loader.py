"""Load and validate the question bank (one YAML file per role)."""

from __future__ import annotations

import difflib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chains.schemas import KINDS, LEVELS, Question

DATA_DIR = Path(__file__).with_name("data")


class RoleSpec(BaseModel):
    """One role file: its name, aliases and questions."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    aliases: list[str] = Field(default_factory=list)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _questions_belong_to_role(self) -> RoleSpec:
        for question in self.questions:
            if question.role != self.role:
                raise ValueError(f"question {question.id} has role {question.role!r}, file is {self.role!r}")
        return self


class UnknownRole(ValueError):
    """Raised for a role the bank does not know; carries the closest matches."""

    def __init__(self, role: str, suggestions: list[str]) -> None:
        self.role = role
        self.suggestions = suggestions
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown role {role!r}.{hint}")


class Bank:
    """All roles and questions, indexed for selection."""

    def __init__(self, roles: list[RoleSpec]) -> None:
        self.roles = {spec.role: spec for spec in roles}
        self.questions = [q for spec in roles for q in spec.questions]
        self.by_id = {q.id: q for q in self.questions}
        duplicates = [qid for qid, n in Counter(q.id for q in self.questions).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(sorted(duplicates))}")
        self._aliases: dict[str, str] = {}
        for spec in roles:
            for name in [spec.role, spec.title, *spec.aliases]:
                self._aliases[_normalise(name)] = spec.role

    def resolve_role(self, name: str) -> str:
        """Map a user-typed role ("Backend Engineer", "sre") to a bank role or raise UnknownRole."""
        key = _normalise(name)
        if key in self._aliases:
            return self._aliases[key]
        close = difflib.get_close_matches(key, list(self._aliases), n=3, cutoff=0.5)
        suggestions = list(dict.fromkeys(self._aliases[c] for c in close))
        raise UnknownRole(name, suggestions)

    def select(self, role: str, kind: str, level: str) -> list[Question]:
        """Questions for a role and kind, the requested level first, then neighbouring levels."""
        pool = [q for q in self.questions if q.role == role and q.kind == kind]
        order = _level_order(level)
        return sorted(pool, key=lambda q: order.index(q.level))

    def stats(self) -> dict[str, object]:
        """Counts per role, kind and level (for ``mockingbird bank stats``)."""
        per_role: dict[str, dict[str, int]] = {}
        for spec in self.roles.values():
            counts = Counter(f"{q.kind}/{q.level}" for q in spec.questions)
            per_role[spec.role] = {"total": len(spec.questions), **dict(sorted(counts.items()))}
        return {
            "total": len(self.questions),
            "roles": len(self.roles),
            "by_kind": dict(Counter(q.kind for q in self.questions)),
            "by_level": dict(Counter(q.level for q in self.questions)),
            "domains": len({(q.role, q.domain) for q in self.questions}),
            "per_role": per_role,
        }


def _normalise(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").replace("/", " ").split())


def _level_order(level: str) -> list[str]:
    index = LEVELS.index(level)  # type: ignore[arg-type]
    return sorted(LEVELS, key=lambda other: (abs(LEVELS.index(other) - index), LEVELS.index(other)))


def load_role_file(path: Path) -> RoleSpec:
    """Parse one role file; errors name the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RoleSpec.model_validate(raw)
    except Exception as exc:  # re-raised with the file name, which pydantic doesn't know
        raise ValueError(f"{path.name}: {exc}") from exc


@lru_cache(maxsize=4)
def load_bank(directory: Path = DATA_DIR) -> Bank:
    """Load every ``*.yaml`` role file in ``directory`` (cached; the bank is read-only)."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no question bank files in {directory}")
    return Bank([load_role_file(path) for path in files])


__all__ = ["Bank", "RoleSpec", "UnknownRole", "load_bank", "KINDS", "LEVELS"]
