"""What in a Markdown text Chainlit's renderer (react-markdown + remark-gfm, Chainlit 2.12) could turn into an image,
a link, HTML, or hide from a person: the checks the tests of calbot/safe_text.py, calbot/channels/markdown.py and the Chainlit front door share.

`hazards(markdown)` lists every such spot (empty: the text shows as text). It errs on the strict side: a `]`
directly followed by `(`, `[` or `:` counts even where CommonMark would not make a link of it. Code spans are left
out (nothing in them is a link), but not for invisible controls.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_CHECKS = {
    "link or image": re.compile(r"(?<!\\)\]\s*[(\[:]"),  # inline, reference, definition (images are links with !)
    # CommonMark's HTML (open tag, closing tag, comment, declaration, processing instruction) and <autolinks>
    "html or <autolink>": re.compile(r"(?<!\\)<(?:[A-Za-z][A-Za-z0-9-]*(?=[\s/>])|/[A-Za-z]|[!?]"
                                     r"|[A-Za-z][A-Za-z0-9+.-]{1,31}:|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@)"),
    "autolink literal": re.compile(r"(?i)https?://|(?<![A-Za-z0-9])www\.|[-.\w+]@[-\w]"),
    "invisible control": re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b\u200e\u200f"
                                    "\u202a-\u202e\u2061-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"),
}
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _spans(markdown: str, code, escaped) -> str:
    """`markdown` rebuilt: each code span (CommonMark: a run of n backticks up to the next run of exactly n) through
    `code(content)`, each backslash escape through `escaped(pair)`; backslash-escaped backticks open no span."""
    out, i, n = [], 0, len(markdown)
    while i < n:
        char = markdown[i]
        if char == "\\":
            out.append(escaped(markdown[i:i + 2]))
            i += 2
        elif char == "`":
            j = i
            while j < n and markdown[j] == "`":
                j += 1
            closing = re.compile(f"(?<!`){markdown[i:j]}(?!`)").search(markdown, j)
            out.append(code(markdown[j:closing.start()]) if closing else markdown[i:j])
            i = closing.end() if closing else j
        else:
            out.append(char)
            i += 1
    return "".join(out)


def without_code(markdown: str) -> str:
    """`markdown` with each code span replaced by " CODE ": nothing inside one is a link, an image or HTML."""
    return _spans(markdown, lambda content: " CODE ", lambda pair: pair)


def text_of(markdown: str) -> str:
    """Roughly what a person reads of one line of escaped Markdown: code spans' contents, escapes resolved, no word
    joiners."""
    return visible(_spans(markdown, lambda content: content.strip(), lambda pair: pair[1:]))


def hazards(markdown: str) -> list[str]:
    text = without_code(markdown)
    found = [f"{name}: {text[max(0, m.start() - 20):m.end() + 20]!r}"
             for name, pattern in _CHECKS.items() if name != "invisible control" for m in pattern.finditer(text)]
    # An invisible control shows (or hides) inside code too.
    return found + [f"invisible control: {markdown[max(0, m.start() - 20):m.end() + 20]!r}"
                    for m in _CHECKS["invisible control"].finditer(markdown)]


def visible(markdown: str) -> str:
    """The text without the word joiners calbot puts in to stop autolinks (they are invisible on the page)."""
    return markdown.replace(WORD_JOINER, "")
