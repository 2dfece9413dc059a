"""Typed confirmation: a plain yes or no typed while exactly one proposal is open is the Confirm or Discard button.

The decision is code's, from the small grammar below, never the model's. A whole message must be a plain answer:
an optional yes-word, an optional verb for the proposal's action ("book it", "move it"), optional politeness
("please", "thanks"), in any order of those three; or a plain no. Anything else (a new time, a question, "yes but at
4pm") is None and goes to the model as any message does. "Cancel it" answers a cancel proposal neither way (it may
mean "go ahead and cancel" or "drop this"), so the model reads it.

English, German, French, Spanish, Italian, Dutch and Portuguese words are known; a message in another language is
simply not a typed answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Answer = Literal["confirm", "discard"]

_YES = {
    # en
    "yes", "y", "yep", "yeah", "yup", "sure", "ok", "okay", "k", "confirm", "confirmed", "correct", "go ahead",
    "do it", "go for it", "sounds good", "that's right", "thats right", "that is right", "yes confirm",
    "please do", "absolutely", "of course",
    # de, fr, es, it, nl, pt
    "ja", "jawohl", "bestätigen", "bestätige", "bestätigt", "mach das", "oui", "confirmer", "je confirme", "d'accord",
    "si", "sí", "confirmar", "confirmo", "vale", "claro", "sì", "confermo", "confermare", "va bene", "bevestig",
    "bevestigen", "prima", "sim", "confirmo sim",
}
_NO = {
    # en
    "no", "n", "nope", "nah", "discard", "don't", "dont", "do not", "no thanks", "no thank you", "never mind",
    "nevermind", "forget it", "drop it", "not that", "no don't",
    # de, fr, es, it, nl, pt
    "nein", "verwerfen", "lieber nicht", "non", "non merci", "pas ça", "no gracias", "descartar", "no grazie",
    "scarta", "nee", "nee dank je", "niet", "não", "nao", "descartar isso",
}
_POLITE = {"please", "pls", "thanks", "thank you", "bitte", "danke", "merci", "s'il te plaît", "s'il vous plaît",
           "por favor", "gracias", "grazie", "per favore", "alsjeblieft", "dank je", "obrigado", "obrigada"}
_VERBS = {
    "book": {"book it", "book that", "book", "book the meeting", "schedule it", "buchen", "réserver", "reservar",
             "prenota", "boeken", "marcar"},
    "reschedule": {"move it", "move that", "move", "reschedule it", "reschedule", "verschieben", "déplacer",
                   "mover", "sposta", "verplaatsen"},
    "cancel": set(),  # "cancel it" is ambiguous for a cancel proposal: the model reads it
}
_CANCEL_WORDS = {"cancel it", "cancel that", "cancel", "cancel this"}  # a no for a book or move proposal
_MAX_WORDS = 8


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    text = re.sub(r"[!.,;:?…¡¿\"()]+", " ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "S")  # emoji and other symbols
    return " ".join(text.split())


def _consume(words: str, phrases: set[str]) -> str | None:
    """`words` without one leading phrase of `phrases` (the longest), or None."""
    for phrase in sorted(phrases, key=len, reverse=True):
        if words == phrase:
            return ""
        if words.startswith(phrase + " "):
            return words[len(phrase) + 1:]
    return None


def _only(words: str, *groups: set[str]) -> bool:
    """True when `words` is made only of phrases from `groups`, each group used at most once, at least one used."""
    used: set[int] = set()
    while words:
        for index, group in enumerate(groups):
            if index in used:
                continue
            rest = _consume(words, group)
            if rest is not None:
                used.add(index)
                words = rest
                break
        else:
            return False
    return bool(used)


def typed_answer(text: str, action: str) -> Answer | None:
    """"confirm" or "discard" when `text` is a plain answer to an open proposal of `action` (book, cancel,
    reschedule); None for anything else."""
    words = _normal(text)
    if not words or len(words.split()) > _MAX_WORDS:
        return None
    verbs = _VERBS.get(action, set())
    if _only(words, _YES, verbs, _POLITE) and not _only(words, _POLITE):
        return "confirm"
    no_words = _NO | (_CANCEL_WORDS if action != "cancel" else set())
    if _only(words, no_words, _POLITE) and not _only(words, _POLITE):
        return "discard"
    return None
