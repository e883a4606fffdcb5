"""Load and validate the question bank (one YAML file per role)."""

from __future__ import annotations

import difflib
import re
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
    """Raised for a role the bank does not know; carries the closest matches and the valid roles."""

    def __init__(self, role: str, suggestions: list[str], roles: list[str] | None = None) -> None:
        self.role = role
        self.suggestions = suggestions
        self.roles = roles or []
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        valid = f" Roles: {', '.join(self.roles)}." if self.roles else ""
        super().__init__(f"Unknown role {role!r}.{hint}{valid}")


class AmbiguousRole(UnknownRole):
    """A name as close to two roles as to each other: guessing would start the wrong interview."""

    def __init__(self, role: str, candidates: list[str]) -> None:
        ValueError.__init__(self, f"Role {role!r} could be {' or '.join(candidates)}; please type one of them.")
        self.role, self.suggestions, self.roles = role, candidates, candidates


# Words a job title adds without naming the role: "SRE engineer" is "sre", "backend developer" "backend".
TITLE_WORDS = frozenset({"engineer", "engineers", "engineering", "developer", "developers", "dev", "devs"})
# difflib ratios. A typo or two in a name ("bakend", "prodcut manager") scores 0.85 or more; two
# different names sharing a word ("account manager", "product manager") score well under 0.8.
RESOLVE_CUTOFF = 0.8
SUGGEST_CUTOFF = 0.6
# Two roles whose best scores are this close are a coin toss: refuse and list both.
AMBIGUITY_MARGIN = 0.05
_TYPO_SHAPE = re.compile(r"[a-z]+( [a-z]+)*")  # what a misspelt name looks like once normalised


class Bank:
    """All roles and questions, indexed for selection."""

    def __init__(self, roles: list[RoleSpec]) -> None:
        self.roles = {spec.role: spec for spec in roles}
        self.questions = [q for spec in roles for q in spec.questions]
        self.by_id = {q.id: q for q in self.questions}
        duplicates = [qid for qid, n in Counter(q.id for q in self.questions).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(sorted(duplicates))}")
        self._names: dict[str, str] = {}
        self._stems: dict[str, set[str]] = {}
        for spec in roles:
            for name in [spec.role, spec.title, *spec.aliases]:
                key = _normalise(name)
                owner = self._names.setdefault(key, spec.role)
                if owner != spec.role:  # a name for two roles would make resolution depend on file order
                    raise ValueError(f"role name {name!r} is used by both {owner} and {spec.role}")
                self._stems.setdefault(_stem(key), set()).add(spec.role)

    def resolve_role(self, name: str) -> str:
        """Map what a person types ("SRE engineer", "prodcut manager") to one bank role.

        In order: the exact name or alias (case, punctuation and hyphens ignored); the same
        without a trailing "engineer"/"developer"; the closest name by difflib ratio, if it is
        a near-certain typo (``RESOLVE_CUTOFF``; letters only, as "backend ²" is no misspelt
        "backend") and no other role comes as close. Anything else raises ``UnknownRole``
        (closest suggestions and every valid role) or ``AmbiguousRole`` (the candidates), so
        the answer never depends on luck or on the order of the files.
        """
        key = _normalise(name)
        if key in self._names:
            return self._names[key]
        stem = _stem(key)
        exact = sorted(self._stems.get(stem, ()))
        if len(exact) == 1:
            return exact[0]
        if exact:
            raise AmbiguousRole(name, exact)
        scores = self._closeness(stem)
        ranked = sorted(scores, key=lambda role: (-scores[role], role))
        if ranked and scores[ranked[0]] >= RESOLVE_CUTOFF and _TYPO_SHAPE.fullmatch(stem):
            tied = [role for role in ranked if scores[role] >= scores[ranked[0]] - AMBIGUITY_MARGIN]
            if len(tied) > 1:
                raise AmbiguousRole(name, tied)
            return ranked[0]
        suggestions = [role for role in ranked if scores[role] >= SUGGEST_CUTOFF][:3]
        raise UnknownRole(name, suggestions, sorted(self.roles))

    def _closeness(self, stem: str) -> dict[str, float]:
        """The best difflib ratio of ``stem`` to any name of each role."""
        best: dict[str, float] = {}
        matcher = difflib.SequenceMatcher(b=stem, autojunk=False)
        for candidate, owners in self._stems.items():
            matcher.set_seq1(candidate)
            score = matcher.ratio()
            for role in owners:
                best[role] = max(best.get(role, 0.0), score)
        return best

    def names(self, role: str) -> list[str]:
        """Every name that resolves exactly to ``role``: its id, title and aliases, in file order."""
        spec = self.roles[role]
        return list(dict.fromkeys([spec.role, spec.title, *spec.aliases]))

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
    """Lower case, every run of punctuation (hyphens, slashes, dots, underscores) a single space."""
    return " ".join(re.sub(r"[\W_]+", " ", name.lower()).split())


def _stem(key: str) -> str:
    """``key`` without trailing title words, misspelt ones too ("sre enginer" -> "sre")."""
    words = key.split()
    while len(words) > 1 and _is_title_word(words[-1]):
        words.pop()
    return " ".join(words)


def _is_title_word(word: str) -> bool:
    if word in TITLE_WORDS:
        return True  # short words only exactly: "de" or "ev" are not a misspelt "dev"
    return len(word) >= 5 and bool(difflib.get_close_matches(word, TITLE_WORDS, n=1, cutoff=RESOLVE_CUTOFF))


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


__all__ = ["AmbiguousRole", "Bank", "RoleSpec", "UnknownRole", "load_bank", "KINDS", "LEVELS"]
