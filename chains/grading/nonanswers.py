"""Answers that are not answers: they cannot score above 3, and the feedback says why first.

Each detector looks for one kind (off-topic, an answer to another question, keyword salad,
parroting, repetition, gibberish, refusal, text addressed to the grader, another language)
and returns a plain-words reason. The thresholds were set on the training part of the annotated
set (tasks/evaluation/annotated): they catch 80 of its 83 non-answers and trip on 21 of its 336
genuine answers, most of them scored 1-3 by the annotator; docs/grading.md has the figures.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from chains.bank import load_bank
from chains.embeddings import embed
from chains.grading import text, themes
from chains.grading.signals import Signals
from chains.schemas import Question

NON_ANSWER_CAP = 3

INJECTION = re.compile(
    r"(ignore|disregard|forget|override)\b.{0,60}\b(instruction|prompt|rubric|rules|guideline|above|grading)"
    r"|\b(give|award|rate|score|grade)\b.{0,30}\b(10|ten)\s*(/\s*10|out of (10|ten)|points|stars)\b"
    r"|\b(give|award)\b.{0,20}\b(full|perfect|maximum|top) (marks|score)"
    r"|system prompt|you are now|new instructions|\b(dear|to the|attention|note to the|hey) (ai |llm )?"
    r"(grader|evaluator|reviewer|model|assistant)\b|\b(ai|llm) (grader|evaluator)\b"
    r"|\b(message|note|instructions?) (to|for) (the )?(ai |llm )?(grader|evaluator|reviewer)\b"
    r"|\b(rubric|grading|scoring) (has been|was|is now) (updated|changed)"
    r"|\bmust (receive|get|be given) (the|a) (maximum|highest|top|perfect|full)\b",
    re.IGNORECASE,
)
REFUSAL = re.compile(
    r"\b(i (really )?(don'?t|do not) know|no idea|not sure|pass|skip|next question|i have never|i've never|i can'?t"
    r" (answer|say|remember|think of)|nothing comes to mind|i haven'?t (done|had|worked))\b")
FOREIGN_STOPWORDS: dict[str, frozenset[str]] = {
    "Spanish": frozenset("el la los las que de en y un una por para con es del se lo como pero muy fue".split()),
    "German": frozenset("der die das und ist nicht ich wir ein eine mit auf für den dem zu es auch war".split()),
    "French": frozenset("le la les des et est que une un pour dans nous je pas avec sur ce qui était".split()),
    "Portuguese": frozenset("o os as que de em um uma para com não eu nós foi mais do da no na".split()),
    "Italian": frozenset("il lo gli che di e un una per con non sono ho abbiamo nel della era".split()),
    "Dutch": frozenset("de het een en van ik wij niet is dat op te met voor was".split()),
}
SCRIPTS = (("CJK", "CJK"), ("HIRAGANA", "Japanese"), ("KATAKANA", "Japanese"), ("HANGUL", "Korean"),
           ("CYRILLIC", "Russian or another Cyrillic language"), ("ARABIC", "Arabic"), ("HEBREW", "Hebrew"),
           ("DEVANAGARI", "Hindi"), ("GREEK", "Greek"), ("THAI", "Thai"))

# Word salad: at least this many slips per word (genuine training answers: at most 0.03).
DOUBLED_WORD = re.compile(r"\b([a-z]+) +\1\b")
ARTICLE_THEN_FUNCTION_WORD = re.compile(r"\b(?:the|a|an) +(?:the|a|an|of|under|in|on|at|to|for|with|from|by|if|and|or"
                                        r"|was|is)\b")
SALAD_SLIPS = 0.06

# Off-topic: few of the answer's words belong to the role's field (cosine >= DOMAIN_WORD to a word of
# the role's questions and key points) and no sentence comes near a key point.
DOMAIN_WORD = 0.7
OFF_TOPIC_DOMAIN_SHARE = 0.36
OFF_TOPIC_BEST_POINT = 0.35
# Another question: a bank question fits the answer this much better than the one asked, and the
# answer shares almost no words with the question and its key points. A story shares its role's
# vocabulary with every question of the role, so for stories the words that set questions apart
# decide too (themes.py): a neighbour of the same role matches them this much better, or a little
# less where the bank margin holds as well, or the bank's nearest question (of any role) matches them
# better. Set on the training part, with 39 blind stories told to the wrong question of their role.
OTHER_QUESTION_MARGIN = 0.3
OTHER_QUESTION_SHARED_WORDS = 3
OTHER_STORY_THEME_MARGIN = 0.2
OTHER_STORY_THEME_MARGIN_WITH_BANK = 0.15
OTHER_STORY_RIVAL_THEME_MARGIN = 0.1
PARROT_RELEVANCE = 0.8
# Parroting with padding: most of the answer's content words are the question's own.
PARROT_QUESTION_SHARE = 0.6


# Words of time that say nothing about what an answer is about ("last spring", "two hours").
WHEN = frozenset("last next first hour hours days weeks month months year years time times week spring summer "
                 "autumn winter today yesterday morning evening night later ahead afternoon tonight tomorrow weekend "
                 "weekends monday tuesday wednesday thursday friday saturday sunday".split())
# Nor do talk, pronouns and the common irregular verbs (regular ones end in -ed or -ing and are left out
# too): "it is about gave, came and park" told a candidate nothing.
NOT_A_TOPIC = frozenset("yeah okay sure well anyway whatever stuff thing things always never sometimes often usually "
                        "really actually basically literally honestly haha else every anyone someone everyone nobody "
                        "please look myself yourself ourselves themselves himself herself came went gave took made "
                        "kept told said got saw thought felt left brought bought found knew done gone seen given "
                        "taken began became held meant sent spent stood".split())


@dataclass(frozen=True)
class NonAnswer:
    kind: str
    reason: str


def _language(answer: str) -> str | None:
    letters = [c for c in answer if c.isalpha()]
    if not letters:
        return None
    names: Counter[str] = Counter()
    for char in letters:
        if ord(char) < 0x250:
            continue
        name = unicodedata.name(char, "")
        for marker, language in SCRIPTS:
            if marker in name:
                names[language] += 1
                break
    if names and sum(names.values()) / len(letters) > 0.3:
        return names.most_common(1)[0][0]
    tokens = re.findall(r"[^\W\d_]+", answer.lower())
    if len(tokens) < 6:
        return None
    english = sum(t in text.STOPWORDS for t in tokens) / len(tokens)
    scores = {lang: sum(t in words for t in tokens) / len(tokens) for lang, words in FOREIGN_STOPWORDS.items()}
    language, share = max(scores.items(), key=lambda item: item[1])
    return language if share > 0.15 and share > english else None


def _gibberish(answer: str) -> bool:
    """Keyboard mashing, or real words in random order (which English almost never writes as a word
    said twice in a row, or an article followed by another function word)."""
    lowered = answer.lower()
    tokens = re.findall(r"[a-z]+", lowered)
    if len(tokens) < 3:
        return False
    vowelless = sum(1 for t in tokens if len(t) > 3 and not re.search(r"[aeiouy]", t))
    consonant_runs = sum(1 for t in tokens if re.search(r"[bcdfghjklmnpqrstvwxz]{5,}", t))
    slips = len(DOUBLED_WORD.findall(lowered)) + len(ARTICLE_THEN_FUNCTION_WORD.findall(lowered))
    return (vowelless + consonant_runs) / len(tokens) > 0.25 or (slips >= 2 and slips / len(tokens) >= SALAD_SLIPS)


def _topic_words(answer: str, question: Question) -> list[str]:
    """What an off-topic answer is about: the words nearest its own meaning and furthest from the question's
    (a repeated word a little more), so a bake-sale story is about "sourdough", not "last" or "took"."""
    asked = text.content_stems(text.asked(question))
    candidates = (w.removesuffix("'s") for w in text.words(answer))  # "the restaurant's site": restaurant
    counts = Counter(w for w in candidates
                     if "'" not in w and w not in text.STOPWORDS and w not in WHEN and w not in NOT_A_TOPIC
                     and len(w) > 3 and text.stem(w) not in asked and not w.isdigit()
                     and not w.endswith(("ed", "ing", "ly")))
    if not counts:
        return []
    words = sorted(counts)
    answer_vector, question_vector = embed([answer, text.asked(question)])
    vectors = embed(words)
    typical = vectors @ answer_vector - vectors @ question_vector
    # A topic recurs: a word said two or three times counts for more than its nearness alone.
    ranked = sorted(zip(words, typical, strict=True),
                    key=lambda pair: -float(pair[1]) - 0.15 * min(counts[pair[0]], 3))
    return [_as_written(w, answer) for w, _ in ranked[:3]]


def _as_written(word: str, answer: str) -> str:
    """A name keeps its capitals ("Lisbon"); a word capitalised only to start a sentence does not."""
    forms = [m.group() for m in re.finditer(rf"\b{re.escape(word)}\b", answer, re.IGNORECASE)
             if not re.search(r"(^|[.!?]\s+)$", answer[:m.start()])]  # not the first word of a sentence
    return word if not forms or word in forms else forms[0]


@lru_cache(maxsize=1)
def _bank_vectors() -> tuple[list[Question], np.ndarray]:
    questions = load_bank().questions
    return questions, embed([text.asked(q) for q in questions])


@lru_cache(maxsize=64)
def _field_vectors(role: str) -> np.ndarray:
    """The words of a role's questions and key points: what its field sounds like."""
    words = sorted({w for q in load_bank().questions if q.role == role
                    for w in text.content_words(text.asked(q))})
    return embed(words)


def prepare() -> None:
    """Embed the bank and every role's field words now, so no role's first answer pays for it."""
    questions, _ = _bank_vectors()
    for role in {q.role for q in questions}:
        _field_vectors(role)
    themes.prepare()


def domain_share(answer: str, role: str) -> float:
    """Share of the answer's distinct content words that belong to the role's field."""
    words = text.content_words(answer)
    if not words:
        return 0.0
    field = _field_vectors(role)
    if not len(field):  # a role the bank does not know: no field to be off
        return 1.0
    return float(((themes.word_vectors(words) @ field.T).max(axis=1) >= DOMAIN_WORD).mean())


def _other_question(answer: str, question: Question, signals: Signals) -> Question | None:
    """The bank question this answer seems to address instead of the one asked, if any."""
    questions, vectors = _bank_vectors()
    own = next((i for i, q in enumerate(questions) if q.id == question.id), None)
    if own is None:  # a model-written question: no bank neighbour to compare with fairly
        return None
    similarity = vectors @ embed([answer])[0]
    asked = float(similarity[own])
    similarity[own] = -np.inf
    best = int(similarity.argmax())
    bank_margin = float(similarity[best]) - asked
    if question.kind == "technical":
        fits = bank_margin >= OTHER_QUESTION_MARGIN and signals.shared_question_words <= OTHER_QUESTION_SHARED_WORDS
        return questions[best] if fits else None
    if signals.neighbour is None:
        return None
    theme_margin = signals.neighbour.margin
    if theme_margin >= OTHER_STORY_THEME_MARGIN or (
            bank_margin >= OTHER_QUESTION_MARGIN and theme_margin >= OTHER_STORY_THEME_MARGIN_WITH_BANK):
        return load_bank().by_id[signals.neighbour.question_id]
    if bank_margin >= OTHER_QUESTION_MARGIN and \
            (themes.margin_over(question, questions[best], answer) or 0.0) >= OTHER_STORY_RIVAL_THEME_MARGIN:
        return questions[best]
    return None


def detect(question: Question, answer: str, signals: Signals) -> NonAnswer | None:
    """The first kind of non-answer this answer is, or None for a genuine attempt."""
    lowered = answer.lower()
    if INJECTION.search(answer):
        return NonAnswer("grader-directed", "Part of this answer speaks to the grader instead of answering the "
                         "question; an answer is scored on what it says about the question, so it scores low.")
    language = _language(answer)
    if language:
        return NonAnswer("foreign-language", f"This answer seems to be written in {language}; this grader reads "
                         "English only, so it could not judge the content. Answer in English to be scored.")
    if signals.words < 60 and REFUSAL.search(lowered):
        return NonAnswer("refusal", "This is not an answer yet: saying you don't know gives the interviewer "
                         "nothing to assess.")
    if _gibberish(answer):
        return NonAnswer("gibberish", "This answer is not readable text, so there is nothing to assess.")
    if signals.sentence_count >= 4 and (signals.unique_sentence_ratio < 0.5 or signals.compression < 0.12):
        return NonAnswer("repetition", "This answer repeats the same sentences over and over; repetition adds "
                         "nothing an interviewer can assess.")
    tokens = text.words(answer)
    if len(tokens) >= 6:
        function_share = sum(t in text.STOPWORDS for t in tokens) / len(tokens)
        if function_share < 0.12:
            return NonAnswer("keyword-salad", "This is a list of keywords, not an answer: it names terms without "
                             "saying what you did or how anything works.")
    asked = text.content_stems(question.text)
    novel = text.content_stems(answer) - asked
    content = [text.stem(w) for w in tokens if w not in text.STOPWORDS and len(w) > 1]
    echoed = sum(stem in asked for stem in content) / len(content) if len(content) >= 5 else 0.0
    if (signals.relevance >= PARROT_RELEVANCE and len(novel) <= 4) or echoed >= PARROT_QUESTION_SHARE:
        return NonAnswer("parroting", "This answer restates the question instead of answering it.")
    if (max(signals.point_similarity, default=0.0) < OFF_TOPIC_BEST_POINT
            and domain_share(answer, question.role) < OFF_TOPIC_DOMAIN_SHARE):
        topic = text.join_words(_topic_words(answer, question))
        about = f"; it is about {topic}" if topic else ""
        return NonAnswer("off-topic", f"This answer does not address the question{about}.")
    other = _other_question(answer, question, signals)
    if other is not None:
        return NonAnswer("other-question", f"This answer seems to address a different question (the closest: "
                         f"\"{other.text}\"), not the one asked.")
    return None
