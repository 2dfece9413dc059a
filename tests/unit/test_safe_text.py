"""calbot/safe_text.py: model Markdown without images, links that hide their target or HTML, also while it streams;
invisible controls shown; text written by people capped and never auto-linked (issue 15, finding 2)."""

from __future__ import annotations

import unicodedata

import pytest

from calbot.safe_text import (
    IMAGE_NOT_SHOWN,
    ModelMarkdown,
    cap,
    plain,
    reveal,
    reveal_all,
    sanitise_model_markdown,
    unlinked,
)
from tests.markdown_hazards import BIDI_CONTROLS, hazards, text_of, visible

PIXEL = "http://127.0.0.1:9/pixel?data=secret"

# Each way a model (or text it repeats) could make the page fetch, link or run something.
HOSTILE = {
    "image": f"Look ![calendar data]({PIXEL}) now",
    "image with title": f'![x]({PIXEL} "t")',
    "image in angle brackets": "![x](<http://h.example/a b.png>)",
    "look-alike link": "[paypal.com](http://evil.example/login)",
    "link with parentheses": "[docs](http://h.example/a_(b)) and more",
    "nested link": "[a [b](http://h.example/1)](http://i.example/2)",
    "reference image": "![x][pix]\n\n[pix]: http://h.example/p.gif",
    "reference link": "[click][r] or [r]\n\n[r]: <http://h.example/x> \"t\"",
    "collapsed reference": "[r][]\n\n[r]: http://h.example/x",
    "footnote": "text[^1]\n\n[^1]: see http://h.example",
    "raw img": '<img src="http://h.example/p.gif">',
    "raw script": "<script>alert(1)</script>",
    "html comment": "<!-- x --> and <a href='http://h.example'>y</a>",
    "autolink": "<http://h.example/auto> and <ana@example.com>",
    "bare url": "see https://paypal.com.evil.example/login.",
    "upper case url": "HTTPS://H.EXAMPLE/X",
    "www name": "visit www.paypal.com.evil.example today",
    "email": "write to ceo@paypal.com.evil.example",
    "mailto": "mailto:ceo@h.example",
    "bidi": "Invoice \u202egpj.exe\u202c and \u2066iso\u2069 \u200emarks\u200f \u061c",
    "zero width": "pay\u200bpal \ufeff\u2060 and the cursor placeholder \u200b",
    "tags": "hi\U000e0041\U000e0042",
    "escaped bracket before link": r"\[x](http://h.example)",
}


def stream(text: str, cuts: list[int]) -> list[str]:
    """What a ModelMarkdown returns for `text` cut at `cuts`: one piece per feed, then finish()."""
    sanitiser, pieces, last = ModelMarkdown(), [], 0
    for cut in [*cuts, len(text)]:
        pieces.append(sanitiser.feed(text[last:cut]))
        last = cut
    return [*pieces, sanitiser.finish()]


# -- the model's Markdown --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_no_way_to_embed_link_or_write_html_survives(text):
    assert hazards(sanitise_model_markdown(text)) == []


def test_an_image_becomes_its_alt_text():
    assert sanitise_model_markdown(HOSTILE["image"]) == f"Look calendar data {IMAGE_NOT_SHOWN} now"
    assert sanitise_model_markdown(f"![]({PIXEL})") == IMAGE_NOT_SHOWN


def test_a_link_shows_its_text_and_where_it_goes():
    shown = sanitise_model_markdown(HOSTILE["look-alike link"])
    assert visible(shown) == "paypal.com (http://evil.example/login)"
    assert visible(sanitise_model_markdown("[http://h.example/a](http://h.example/a)")) == "http://h.example/a"
    assert visible(sanitise_model_markdown(HOSTILE["link with parentheses"])) == (
        r"docs (http://h.example/a\_\(b\)) and more")


def test_formatting_and_ordinary_text_are_kept():
    text = "**Booked** for _Tuesday_ at 10:00.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code` ok!"
    assert sanitise_model_markdown(text) == text
    assert visible(sanitise_model_markdown("use `x[0]` and 3 < 4, e.g. www or http")) == (
        "use `x[0]` and 3 < 4, e.g. www or http")


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_streamed_in_any_two_cuts_the_pieces_add_up_and_are_never_live(text):
    whole = sanitise_model_markdown(text)
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1, 3):
            pieces = stream(text, [first, second])
            assert "".join(pieces) == whole, (first, second)
            shown = ""
            for piece in pieces:  # what the page holds after each piece
                shown += piece
                assert hazards(shown) == [], (first, second, shown)


def test_a_partial_image_is_held_until_it_completes_and_the_first_words_go_at_once():
    sanitiser = ModelMarkdown()
    assert sanitiser.feed("Here it is ![cal") == "Here it is "
    assert sanitiser.feed("endar](http://h.example/p") == ""
    assert sanitiser.feed("?d=1) done") == f"calendar {IMAGE_NOT_SHOWN} done"
    assert sanitiser.feed(" [not a link] at all") == f" [not a link]\u2060 at all"
    assert sanitiser.feed(" !") == " "  # may be the start of an image
    assert sanitiser.finish() == "!"


def test_an_unfinished_construct_at_the_end_is_shown_as_text():
    assert visible(sanitise_model_markdown("Look ![unfinished")) == "Look ![unfinished"
    assert visible(sanitise_model_markdown("[a](http://h.example")) == "[a](http://h.example"
    assert hazards(sanitise_model_markdown("[a](http://h.example")) == []


def test_a_long_bracket_is_not_held_for_ever():
    sanitiser = ModelMarkdown()
    out = sanitiser.feed("[" + "x" * 600)
    assert out.startswith("[x") and len(out) == 601


def test_bidi_controls_in_model_text_are_shown():
    shown = sanitise_model_markdown(HOSTILE["bidi"])
    assert "<U+202E>gpj.exe<U+202C>" in shown and "<U+2066>iso<U+2069>" in shown and "<U+061C>" in shown
    assert not set(shown) & set(BIDI_CONTROLS)


# -- invisible characters ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("char", list(BIDI_CONTROLS + "\u200b\u2060\ufeff\u00ad\x07\x1b\u3164"))
def test_each_bidi_and_invisible_control_is_shown_as_its_code_point(char):
    assert reveal(f"a{char}b") == f"a<U+{ord(char):04X}>b"


def test_every_invisible_format_character_is_shown():
    visible_format = {0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2,
                      0x110BD, 0x110CD} | set(range(0x13430, 0x13440))  # signs drawn with the digits they span
    missed = [f"U+{c:04X}" for c in range(0x110000)
              if unicodedata.category(chr(c)) == "Cf" and c not in visible_format and c not in (0x200C, 0x200D)
              and reveal(chr(c)) == chr(c)]
    assert missed == []


def test_joiners_inside_words_and_emoji_stay_and_elsewhere_are_shown():
    for word in ["می\u200cخواهم", "क्\u200dष", "👨\u200d👩\u200d👧", "👍🏽\u200d✨"]:
        assert reveal(word) == word and sanitise_model_markdown(word) == word
    assert reveal("pay\u200dpal\u200c") == "pay<U+200D>pal<U+200C>"
    sanitiser = ModelMarkdown()  # a joiner at the end of a piece waits for the next character
    assert sanitiser.feed("👨\u200d") == "👨" and sanitiser.feed("👩") == "\u200d👩"


def test_reveal_all_walks_tool_arguments_and_results():
    value = {"title\u202e": ["a\u202eb", {"n": "\u2066x"}], "count": 3, "ok": True, "none": None}
    assert reveal_all(value) == {"title<U+202E>": ["a<U+202E>b", {"n": "<U+2066>x"}], "count": 3, "ok": True,
                                 "none": None}


# -- text written by people ----------------------------------------------------------------------------------------
def test_cap_cuts_with_an_ellipsis_and_never_inside_a_placeholder():
    assert cap("x" * 3000, 60) == "x" * 59 + "…" and cap("short", 60) == "short" and cap("abc", None) == "abc"
    cut = cap(reveal("ab\u202ecdef"), 6)
    assert cut == "ab…"


@pytest.mark.parametrize("text", ["https://paypal.com.evil.example/login", "www.paypal.com.evil.example",
                                  "Visit HTTP://x.example", "ceo@paypal.com.evil.example", "[a](http://b) <b>x</b>",
                                  "![p](http://h/p.gif)"])
def test_plain_text_links_nothing_and_reads_as_written(text):
    shown = plain(text)
    assert hazards(shown) == []
    assert text_of(shown) == text and "`" in shown  # in a code span: shown as written, never a link


def test_plain_flattens_reveals_and_caps():
    assert plain("a\n\n# b\u202ec", 200) == r"a \# b\<U\+202E\>c"
    assert plain("W" * 3000, 60) == "W" * 59 + "…"


def test_plain_keeps_pipes_out_of_code_spans_and_fences_backticks():
    assert plain("x|http://a.example|y") == r"x\|`http://a.example`\|y"  # safe in a table cell and in a sentence
    assert plain("`a@b.example``") == "``` `a@b.example`` ```"
    assert text_of(plain("see ``a@b.example`` now")) == "see ``a@b.example`` now"


def test_unlinked_is_idempotent():
    once = unlinked("http://a.example www.b.example c@d.example")
    assert unlinked(once) == once and hazards(once) == []


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_checker_sees_each_hostile_text_as_it_comes(text):
    assert hazards(text) != []  # so the checks above can fail
