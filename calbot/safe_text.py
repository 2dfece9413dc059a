"""Text calbot's code did not write, made safe to put on the page.

Chainlit 2.12 renders every message as Markdown with react-markdown and remark-gfm (its frontend's Markdown.tsx):
an image is fetched as soon as it is shown, a link can say one thing and go elsewhere, remark-gfm turns bare
`http(s)://…`, `www.…` and `name@host` into links (its "autolink literals", found after backslash escapes are
resolved, so escaping cannot stop them), and invisible characters such as the right-to-left override U+202E
reorder or hide what a person reads. So:

- `reveal(text)` shows bidi controls and other invisible characters as `<U+202E>`: everything calbot renders.
- `cap(text, limit)` cuts text to `limit` characters with an ellipsis (table cells, proposal fields).
- `plain(text, limit)` is text written by people (booking titles, names, notes) as Markdown that formats and links
  nothing: revealed, on one line, capped, Markdown-escaped, and each word remark-gfm could auto-link (one holding
  `http:`, `https:`, `www.` or `@`) put in a code span. The page shows such a word exactly as written, in a box that
  says "text, not a link", and it can be found, read aloud and copied as it is (an email address in a proposal too).
- `unlinked(text)` puts a word joiner (U+2060) where remark-gfm would start an autolink: between `http`/`https` and
  `:`, between `www` and `.`, and before `@`. This is how the model's text is treated (below): a code span needs the
  whole word and to know whether it already sits inside code, which a stream does not have, while a word joiner is
  decided from the characters just before it. It is invisible and leaves the text reading as written; a person who
  copies such an address from a model reply copies the joiner too. U+2060 rather than the zero-width joiner U+200D:
  it has no effect on how its neighbours are drawn.
- `ModelMarkdown` is the model's Markdown, streamed: the model may format (bold, lists, tables, code) but not embed.
  An inline image `![alt](url)` becomes `alt (image not shown)`, a link `[text](url)` becomes `text (url)` with the
  URL unlinked, and every other way to make a link, an image or HTML is broken: a word joiner after each `]` (no
  reference link, definition or footnote can form) and after each `<` (no HTML tag, no `<url>` autolink), plus
  `unlinked` and `reveal`. Only an unfinished `![`/`[` construct is held back while the stream runs (until it
  completes, turns out not to be one, or the message ends); everything else passes through at once, and the pieces
  add up to what the whole text gives, however the stream was cut.

Code-rendered Markdown (calbot/channels/markdown.py) escapes what it quotes through `plain`; the page's stylesheet
(public/calbot.css) makes long unbroken words wrap.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

WORD_JOINER = "\u2060"
ELLIPSIS = "…"
IMAGE_NOT_SHOWN = "(image not shown)"

# Invisible characters shown as <U+XXXX>: C0/C1 controls but tab and line breaks, the soft hyphen, bidi marks,
# embeddings, overrides and isolates (U+061C, U+200E-F, U+202A-E, U+2066-9), zero-width characters, invisible
# operators, deprecated format characters, the BOM, interlinear annotations, Hangul and Khmer fillers, the combining
# grapheme joiner, variation selectors other than text/emoji presentation (FE0E, FE0F), tag characters (invisible
# ASCII), lone surrogates. Format characters that are visible (Arabic number signs U+0600-0605, U+06DD, ...) stay.
_HIDDEN_CLASS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0d\ufeff\uffa0\ufff9-\ufffb"
    "\ud800-\udfff\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
_HIDDEN = re.compile(f"[{_HIDDEN_CLASS}]")
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: part of Persian and Indic words and of emoji sequences
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_LINK_START = re.compile(r"(?i)(?:https?(?=:)|www(?=\.))")
_LINK_TRIGGER = re.compile(r"(?i)https?:|www\.|@")  # in a word remark-gfm may auto-link (a superset)
_PARTIAL_PLACEHOLDER = re.compile(r"<(?:U\+?[0-9A-F]{0,6})?$")


def _joins_letters(text: str, at: int) -> bool:
    """A ZWNJ/ZWJ between two non-ASCII letters, marks or symbols (Persian, Indic scripts, emoji) is kept."""
    if at == 0 or at + 1 >= len(text):
        return False
    return all(ord(c) > 0x7F and unicodedata.category(c)[0] in "LMS" for c in (text[at - 1], text[at + 1]))


def placeholder(char: str) -> str:
    return f"<U+{ord(char):04X}>"


def reveal(text: str) -> str:
    """`text` with every invisible control shown as `<U+XXXX>` (ZWNJ/ZWJ inside non-Latin words and emoji kept)."""
    if not _HIDDEN.search(text):
        return text

    def shown(match: re.Match[str]) -> str:
        char = match.group()
        if char in _JOINERS and _joins_letters(match.string, match.start()):
            return char
        return placeholder(char)

    return _HIDDEN.sub(shown, text)


def reveal_all(value: Any) -> Any:
    """`reveal` applied to every string in a JSON-like value (tool arguments and results shown in tool steps)."""
    if isinstance(value, str):
        return reveal(value)
    if isinstance(value, dict):
        return {reveal_all(k): reveal_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal_all(v) for v in value]
    return value


def cap(text: str, limit: int | None) -> str:
    """At most `limit` characters: longer text is cut (never inside a <U+XXXX> placeholder) and ends with …."""
    if limit is None or len(text) <= limit:
        return text
    cut = _PARTIAL_PLACEHOLDER.sub("", text[: max(limit - 1, 0)]).rstrip()
    return cut + ELLIPSIS


def escape_markdown(text: str) -> str:
    """Markdown's special characters backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def unlinked(text: str) -> str:
    """`text` where remark-gfm finds no autolink literal (a word joiner after http/https/www, before @)."""
    text = _LINK_START.sub(lambda m: m.group() + WORD_JOINER, text)
    return re.sub(f"(?<!{WORD_JOINER})@", WORD_JOINER + "@", text)


def _code_span(word: str) -> str:
    """`word` as a code span (shown as it is: nothing inside a code span is a link)."""
    fence = "`" * (max((len(run) for run in re.findall("`+", word)), default=0) + 1)
    pad = " " if word.startswith("`") or word.endswith("`") else ""
    return f"{fence}{pad}{word}{pad}{fence}"


def _quoted(word: str) -> str:
    """One word of plain text: escaped, or in code spans where remark-gfm could make a link of it. A `|` stays
    outside the code spans (escaped), so the word is safe in a table cell and in a sentence alike."""
    return "\\|".join(_code_span(part) if _LINK_TRIGGER.search(part) else escape_markdown(part)
                       for part in word.split("|"))


def plain(value: Any, limit: int | None = None) -> str:
    """Text written by a person, as Markdown that shows it as it is and nothing more: invisible controls shown,
    line breaks flattened, at most `limit` characters, Markdown escaped, words that could become links in code
    spans."""
    flat = " ".join(reveal(str(value if value is not None else "")).split())
    return " ".join(_quoted(word) for word in cap(flat, limit).split(" "))


# -- the model's Markdown ------------------------------------------------------------------------------------------

_MAX_LABEL = 500  # characters of link text a held-back construct may grow to
_MAX_DESTINATION = 2048
# Where ModelMarkdown has something to decide; everything between passes through as it is.
_SPECIAL = re.compile(f"[\\[\\]!<@:.\\\\{_HIDDEN_CLASS}]")
_PARTIAL = object()  # the text ends inside what may still become a link or an image


@dataclass(frozen=True)
class _Link:
    end: int  # index after the closing parenthesis
    label: str
    destination: str
    image: bool


_BLANKS = re.compile(r"[ \t]*")
_LABEL = re.compile(f"[^\\[\\]\\n]{{0,{_MAX_LABEL}}}")
_ANGLE_DESTINATION = re.compile(f"[^<>\\n]{{0,{_MAX_DESTINATION}}}")
_RAW_DESTINATION = re.compile(r"(?:[^\s()\\]+|\\.|\((?:[^\s()\\]|\\.)*\))*")  # one level of parentheses
_TITLE = {'"': re.compile(r'[^"\n]*'), "'": re.compile(r"[^'\n]*"), "(": re.compile(r"[^)\n]*")}


def _inline_link(s: str, i: int) -> _Link | object | None:
    """The inline link or image `[label](destination "title")` starting at s[i] ("[" or "!["); _PARTIAL when `s`
    ends before that is known; None when it is not one (regular expressions: a held-back construct is re-read on
    every piece of the stream)."""
    n = len(s)
    image = s[i] == "!"
    j = i + (2 if image else 1)
    k = _LABEL.match(s, j).end()
    if k == n:
        return _PARTIAL
    if s[k] != "]":
        return None
    label = s[j:k]
    k += 1
    if k == n:
        return _PARTIAL
    if s[k] != "(":
        return None
    k = _BLANKS.match(s, k + 1).end()
    if k == n:
        return _PARTIAL
    if s[k] == "<":
        end = _ANGLE_DESTINATION.match(s, k + 1).end()
        if end == n:
            return _PARTIAL
        if s[end] != ">":
            return None
        destination, k = s[k + 1:end], end + 1
    else:
        end = _RAW_DESTINATION.match(s, k, k + _MAX_DESTINATION + 1).end()
        if end - k > _MAX_DESTINATION:
            return None
        if end == n or (s[end] == "\\" and end + 1 == n) or (s[end] == "(" and ")" not in s[end:]):
            return _PARTIAL  # the destination may go on (or close its parenthesis) in the next piece
        destination, k = s[k:end], end
    k = _BLANKS.match(s, k).end()
    if k == n:
        return _PARTIAL
    if s[k] in _TITLE:
        end = _TITLE[s[k]].match(s, k + 1).end()
        if end == n:
            return _PARTIAL if end - k <= _MAX_LABEL else None
        if s[end] != (")" if s[k] == "(" else s[k]):
            return None
        k = _BLANKS.match(s, end + 1).end()
        if k == n:
            return _PARTIAL
    if s[k] != ")":
        return None
    return _Link(k + 1, label, destination, image)


def _show_link(link: _Link) -> str:
    label = sanitise_model_markdown(link.label).strip()
    if link.image:
        return f"{label} {IMAGE_NOT_SHOWN}" if label else IMAGE_NOT_SHOWN
    target = link.destination.strip()
    if not target:
        return label
    shown = unlinked(escape_markdown(reveal(target)))  # not a code span: the link may sit inside the model's code
    if not label or link.label.strip() == target:
        return shown
    return f"{label} ({shown})"


class ModelMarkdown:
    """The model's Markdown made safe for the page, piece by piece as it streams.

        sanitiser = ModelMarkdown()
        for piece in stream: page.append(sanitiser.feed(piece))
        page.append(sanitiser.finish())

    The pieces returned add up to `sanitise_model_markdown(whole text)` whatever the cuts; a piece is held back only
    from an unfinished `[` or `![` (see the module's docstring), or a ZWNJ/ZWJ whose next character is not in yet."""

    def __init__(self) -> None:
        self._pending = ""  # received, not decided yet
        self._before = ""  # the last characters decided (http/www look-behind)
        self._escaped = False  # the last character decided was a backslash that escapes the next one

    def feed(self, text: str) -> str:
        self._pending += text
        return self._scan(final=False)

    def finish(self) -> str:
        """The rest, at the end of the message: an unfinished construct is shown as the text it is."""
        out = self._scan(final=True)
        self._pending, self._before, self._escaped = "", "", False
        return out

    def _scan(self, final: bool) -> str:
        s = self._before + self._pending
        i = len(self._before)
        n = len(s)
        out: list[str] = []
        while i < n:
            if self._escaped:  # the character after a backslash is literal: no link starts there
                self._escaped = False
                out.append(self._one(s, i))
                i += 1
                continue
            match = _SPECIAL.search(s, i)
            if match is None:
                out.append(s[i:])
                i = n
                break
            out.append(s[i:match.start()])
            i = match.start()
            char = s[i]
            if char == "[" or (char == "!" and (i + 1 == n or s[i + 1] == "[")):
                found = _inline_link(s, i) if i + 1 < n or char == "[" else _PARTIAL
                if found is _PARTIAL and not final:
                    break
                if isinstance(found, _Link):
                    out.append(_show_link(found))
                    i = found.end
                    continue
            elif char in _JOINERS and i + 1 == n and not final:
                break  # kept or shown depends on the next character
            elif char == "\\":
                self._escaped = True
            out.append(self._one(s, i))
            i += 1
        self._before = s[max(0, i - 8):i]
        self._pending = s[i:]
        return "".join(out)

    @staticmethod
    def _one(s: str, i: int) -> str:
        """The character at s[i], made inert."""
        char = s[i]
        if _HIDDEN.match(char):
            return char if char in _JOINERS and _joins_letters(s, i) else placeholder(char)
        if char in "]<":  # no reference link, definition or footnote; no HTML tag or <url> autolink
            return char + WORD_JOINER
        if char == "@":
            return WORD_JOINER + char
        before = s[max(0, i - 5):i].lower()
        if (char == ":" and before.endswith(("http", "https"))) or (char == "." and before.endswith("www")):
            return WORD_JOINER + char
        return char


def sanitise_model_markdown(text: str) -> str:
    """The whole of a model's Markdown reply made safe for the page (see ModelMarkdown)."""
    sanitiser = ModelMarkdown()
    return sanitiser.feed(text) + sanitiser.finish()
