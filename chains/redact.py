"""Redaction of personal data in text that leaves an interview: exports, and other candidates'
answers shown to a model as few-shot exemplars. Emails, phone numbers, card numbers, profile
URLs, platform user ids and names.

Patterns catch what has a shape (emails, phone numbers, payment card numbers that pass the Luhn
check, with or without spaces or dashes, profile URLs such as ``linkedin.com/in/…`` or
``github.com/…``, Slack ``<@U…>`` / ``U…`` ids, Discord ``<@…>`` mentions and snowflakes,
``@handles``); the names the platform gave us for the people behind a row (display name, user
id) are removed by value, in any case and with or without accents (``Zoë`` also takes ``zoe``),
parts of a name too, except parts that are everyday words (``Will``, ``Grace``), which are
taken only capitalised. Replacements are typed placeholders, so the text stays readable for
training.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A run of digits with spaces, dots, dashes or brackets; _phone() decides by the digit count.
PHONE = re.compile(r"(?<![\w.+])(?:\+|\b00)?\(?\d[\d\s.\-()]{5,22}\d(?![\w.]?\d)")
SLACK_MENTION = re.compile(r"<@[UW][A-Z0-9]{6,}(?:\|[^>]*)?>")
SLACK_ID = re.compile(r"\b[UW][A-Z0-9]{8,11}\b")
DISCORD_MENTION = re.compile(r"<@[!&]?\d{15,21}>")
SNOWFLAKE = re.compile(r"\b\d{17,20}\b")
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.\-]{1,31}\b")
# 13-19 digits, plain or grouped as cards print them (4-4-4-4[-3], Amex 4-6-5) with spaces or
# dashes; _card() keeps only Luhn-valid numbers.
CARD = re.compile(
    r"(?<![\w.+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{5})"
    r"(?![\w]|[.-]?\d)"
)
# A person's page on a social or code site: the path names them.
PROFILE_HOSTS = (
    "linkedin.com/", "github.com/", "gitlab.com/", "bitbucket.org/", "twitter.com/", "x.com/",
    "facebook.com/", "instagram.com/", "medium.com/", "stackoverflow.com/users/", "dev.to/", "kaggle.com/",
)
PROFILE = re.compile(
    r"(?<![\w.@/-])(?:https?://)?(?:[a-z0-9-]+\.)*"
    r"(?:linkedin\.com/(?:in|pub|profile)/|github\.com/|gitlab\.com/|bitbucket\.org/|twitter\.com/|x\.com/"
    r"|facebook\.com/|instagram\.com/|medium\.com/@?|stackoverflow\.com/users/|dev\.to/|kaggle\.com/)"
    r"[\w%@.~+\-]+(?:/[\w%@.~+\-]*)*",
    re.IGNORECASE,
)

PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("profile", PROFILE, "[PROFILE]"),
    ("email", EMAIL, "[EMAIL]"),
    ("slack_mention", SLACK_MENTION, "[USER]"),
    ("discord_mention", DISCORD_MENTION, "[USER]"),
    ("snowflake", SNOWFLAKE, "[USER]"),
    ("slack_id", SLACK_ID, "[USER]"),
    ("card", CARD, "[CARD]"),
    ("phone", PHONE, "[PHONE]"),
    ("handle", HANDLE, "[USER]"),
)
MIN_NAME_PART = 3
# Name parts that are also everyday words: taken out only when written as a name (capitalised).
COMMON_WORDS = frozenset(
    """will may june april august grace hope faith joy mark bill rose summer autumn dawn ray sky
    rich drew sue pat art bob jack frank earl dean chase hunter price young king long black white
    brown green gray grey hill wood ford page bell miles lane love star sunny rob max""".split()
)


def _phone(match: re.Match[str]) -> str:
    """International numbers (``+``/``00``) from 8 digits, others from 9, so dates and years stay."""
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    return "[PHONE]" if (8 if found.startswith(("+", "00")) else 9) <= digits <= 15 else found


def _card(match: re.Match[str]) -> str:
    """A payment card number (13-19 digits) only when its Luhn check digit is right."""
    digits = [int(ch) for ch in match.group(0) if ch.isdigit()]
    if not 13 <= len(digits) <= 19:
        return match.group(0)
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return "[CARD]" if total % 10 == 0 else match.group(0)


_SUBSTITUTES = {"phone": _phone, "card": _card}


def redact_patterns(text: str) -> str:
    # Cheap guards first: most text has no "@", no profile site and no long run of digits.
    has_at = "@" in text
    lowered = text.lower() if "/" in text else ""
    for name, pattern, placeholder in PATTERNS:
        if name in ("email", "handle", "slack_mention", "discord_mention") and not has_at:
            continue
        if name == "profile" and not any(host in lowered for host in PROFILE_HOSTS):
            continue
        text = pattern.sub(_SUBSTITUTES.get(name, placeholder), text)
    return text


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H"})


def fold(text: str) -> str:
    """``text`` without accents (``Zoë Ångström`` -> ``Zoe Angstrom``, ``Søren`` -> ``Soren``)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _letter_classes() -> dict[str, str]:
    """Every Latin letter that folds to a plain one, by the plain lower-case letter."""
    classes: dict[str, set[str]] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        base = fold(ch).lower()
        if len(base) == 1 and base.isascii() and base.isalpha():
            classes.setdefault(base, {base, base.upper()}).update(c for c in (ch.lower(), ch.upper()) if len(c) == 1)
    return {base: "".join(sorted(chars)) for base, chars in classes.items()}


_LETTERS = _letter_classes()


def _loose(word: str, *, capitalised: bool = False) -> str:
    """A regex for ``word`` in any case, with or without accents on any letter; ``capitalised``:
    its first letter only upper-case."""
    out = []
    for i, ch in enumerate(fold(word)):
        chars = _LETTERS.get(ch.lower())
        if chars and capitalised and i == 0:
            chars = "".join(c for c in chars if c.isupper())
        out.append(f"[{re.escape(chars)}]" if chars else re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def _names_patterns(names: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """Whole names and parts of a name (``Cara``, ``candidate``) in any case, accented or not;
    parts that are everyday words only capitalised, so a person called Will does not take every
    "will" out of the text."""
    whole = {name.strip() for name in names if name.strip()}
    parts = {part for name in whole for part in re.split(r"[\s._\-]+", name) if len(part) >= MIN_NAME_PART}
    common = {part for part in parts if fold(part).lower() in COMMON_WORDS}
    return _alternation(whole | (parts - common), re.IGNORECASE), _alternation(common - whole, 0)


def _alternation(words: set[str], flags: int) -> re.Pattern[str] | None:
    """``words`` as one whole-word pattern, longest first, accents optional; without IGNORECASE
    the first letter must be a capital."""
    if not words:
        return None
    ordered = sorted(words, key=lambda w: (-len(w), w))
    alternatives = "|".join(_loose(w, capitalised=not flags & re.IGNORECASE) for w in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", flags)


def redact(text: str, names: Iterable[str | None] = ()) -> str:
    """``text`` with personal data replaced; ``names`` are the known names and ids of the people concerned."""
    if not text:
        return text
    text = redact_patterns(text)  # first, so an email is not split by a name inside it
    for pattern in _names_patterns(tuple(sorted({n for n in names if n}))):
        if pattern is not None:
            text = pattern.sub("[NAME]", text)
    return text
