"""Plain-text measurements the grader and its neighbours share: words, sentences, stems.

They are deliberately simple and deterministic: every number the grader reports must be
explainable to a candidate, and the same answer must always measure the same.
"""

from __future__ import annotations

import re
import zlib

from chains.schemas import Question

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just like me more most my
    no nor not now of off on once only or other our ours out over own same she should so some such than
    that the their them then there these they this those through to too under until up use used using
    very was we were what when where which while who whom why will with would you your yours via per
    e.g eg etc one two make sure way ways""".split()
)
WORD = re.compile(r"[a-z0-9][a-z0-9+#]*(?:[-'][a-z0-9]+)*")
SENTENCE = re.compile(r"(?<=[.!?;\n])\s+")
NUMBER = re.compile(r"\$\s?\d|\b\d+(?:[.,]\d+)?\s?(?:%|percent|ms|s|seconds|minutes|hours|days|weeks|months|"
                    r"years|x|k|m|gb|mb|tb|users|customers|people|engineers)?\b")
# Quantities in words ("two weeks", "zero incidents"); "one" is left out, it is mostly "one of".
SPELLED_NUMBER = re.compile(r"\b(zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
                            r"|forty|fifty|hundred|thousand|million|billion|dozen|half|double|twice)\b")
FILLERS = re.compile(
    r"\b(um+|uh+|erm|basically|literally|you know|i guess|kind of|sort of|stuff|things like that"
    r"|whatever|i mean|pretty much|or something|like,)\b"
)
VAGUE = re.compile(r"\b(stuff|things|something|somehow|various|basically|just|really|very|pretty|super|always"
                   r"|never|everything|obviously|simply)\b")
HEDGES = re.compile(r"\b(i think|i guess|maybe|probably|i suppose|not sure|i'm not sure|perhaps)\b")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def stem(word: str) -> str:
    """A deliberately small stemmer: enough to match index/indexes, cache/caching, test/tested."""
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""),
                                ("ly", ""), ("ation", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word.rstrip("e") if len(word) > 4 else word


def asked(question: Question) -> str:
    """The question and its key points as one text: what an answer is compared with."""
    return question.text + " " + " ".join(question.key_points)


def content_words(text: str) -> list[str]:
    """The distinct words that carry meaning (no stop words, digits or one- and two-letter words), sorted."""
    return sorted({w for w in words(text) if w not in STOPWORDS and len(w) > 2 and not w.isdigit()})


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def sentences(text: str) -> list[str]:
    """Sentences (or clauses on a semicolon / line break), without empty pieces."""
    return [s.strip() for s in SENTENCE.split(text) if len(words(s)) >= 1]


def compression_ratio(text: str) -> float:
    """Compressed size over raw size: repeated text compresses far below ordinary prose (~0.45+)."""
    raw = text.encode("utf-8")
    return len(zlib.compress(raw, 9)) / max(len(raw), 1)


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': lists inside generated sentences read as English."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
