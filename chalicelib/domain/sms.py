"""SMS: phone numbers in E.164, the GSM-7 alphabet, and fitting an alert into one segment. Pure.

One SMS segment carries 160 GSM-7 septets, or 70 UTF-16 code units as soon as a single character
falls outside GSM-7 (the whole message then goes as UCS-2). Characters of the GSM-7 extension table
(``^ { } \\ [ ~ ] | €`` and form feed) are sent as an escape plus the character: two septets each.
Alert texts are therefore sanitised to GSM-7 before they are measured (typographic quotes and
dashes to their ASCII forms, accents the alphabet lacks dropped, anything else ``?``), so a
workspace's alert name can never turn a 160-character message into a 3-part UCS-2 one.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from chalicelib.domain.alert_messages import Notification, money

SEGMENT_SEPTETS = 160
SEGMENT_UCS2 = 70
CONCAT_SEPTETS = 153  # per part of a multi-part GSM-7 message (the UDH takes 7)
CONCAT_UCS2 = 67

# GSM 03.38 basic character set (ESC, 0x1B, is the extension table's prefix, not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "´": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "*", "·": ".", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
    "×": "x", "÷": "/", "©": "(c)", "®": "(R)", "™": "TM", "°": "o", "±": "+/-",
}

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # country code first; 7 to 15 digits in all
_SEPARATORS = re.compile(r"[\s\-().]")


class InvalidNumber(ValueError):
    """Not a phone number in E.164 form (``+`` then country code and number, 7 to 15 digits)."""


def normalize_e164(raw: str) -> str:
    """``raw`` as E.164 (``+14155550123``), accepting spaces, dashes, dots and parentheses between
    digits (``+1 (415) 555-0123``); raises ``InvalidNumber`` otherwise. No national formats: a
    number without its ``+`` and country code is ambiguous, so it is refused, not guessed."""
    text = (raw or "").strip()
    if len(text) > 32:
        raise InvalidNumber("a phone number has at most 15 digits")
    if text.startswith("00"):
        raise InvalidNumber("write the number in E.164 form: + and the country code, not 00")
    compact = _SEPARATORS.sub("", text)
    if not compact.startswith("+"):
        raise InvalidNumber("write the number in E.164 form, starting with + and the country code "
                            "(e.g. +14155550123)")
    if not _E164.match(compact):
        raise InvalidNumber("not an E.164 number: + followed by 7 to 15 digits, the first not 0")
    return compact


def mask(number: str) -> str:
    """What an email or a log line shows of a number: ``+1******0123``."""
    if len(number) <= 6:
        return number
    return number[:2] + "*" * (len(number) - 6) + number[-4:]


# --- GSM-7 --------------------------------------------------------------------------------------


def septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7 (extension characters count 2); None if it is not GSM-7."""
    count = 0
    for ch in text:
        if ch in GSM7_BASIC:
            count += 1
        elif ch in GSM7_EXTENSION:
            count += 2
        else:
            return None
    return count


def is_gsm7(text: str) -> bool:
    return septets(text) is not None


def segments(text: str) -> int:
    """How many SMS parts ``text`` is sent as (GSM-7 if it can be, else UCS-2)."""
    n = septets(text)
    if n is not None:
        return 1 if n <= SEGMENT_SEPTETS else -(-n // CONCAT_SEPTETS)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= SEGMENT_UCS2 else -(-units // CONCAT_UCS2)


def sanitize_gsm7(text: str, *, strip: bool = True) -> str:
    """``text`` in GSM-7 on one line: known look-alikes replaced, accents outside the alphabet
    dropped (``ł`` stays ``?``, ``ô`` becomes ``o``), other characters ``?``, whitespace collapsed."""
    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(" " if ch in "\n\r\f" else ch)
            continue
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    joined = re.sub(r" {2,}", " ", "".join(out))
    return joined.strip() if strip else joined


def truncate_septets(text: str, limit: int, ellipsis: str = "...") -> str:
    """The longest prefix of GSM-7 ``text`` within ``limit`` septets, ``ellipsis`` marking a cut."""
    if (septets(text) or 0) <= limit:
        return text
    room = limit - len(ellipsis)
    kept, used = [], 0
    for ch in text:
        cost = 2 if ch in GSM7_EXTENSION else 1
        if used + cost > room:
            break
        kept.append(ch)
        used += cost
    return "".join(kept).rstrip() + ellipsis if room > 0 else ""


def fit_one_segment(head: str, middle: str, tail: str) -> str:
    """``head + middle + tail`` in one GSM-7 segment, cutting only ``middle``. All three are
    sanitised first. Raises ValueError if ``head`` and ``tail`` alone do not fit."""
    head, middle, tail = (sanitize_gsm7(part, strip=False) for part in (head, middle, tail))
    fixed = (septets(head) or 0) + (septets(tail) or 0)
    if fixed > SEGMENT_SEPTETS:
        raise ValueError("the fixed parts of the SMS do not fit one segment")
    return head + truncate_septets(middle, SEGMENT_SEPTETS - fixed) + tail


# --- what CostPilot sends ------------------------------------------------------------------------


def figure_text(n: Notification) -> str:
    """The firing's figure (exact: from the stored decimal, shown to the cent like the email)."""
    if n.figure is None:
        return ""
    return sanitize_gsm7(money(Decimal(n.figure), n.currency))


def render_alert(n: Notification, link: str) -> str:
    """One segment: the headline (which names the figure) and the short link. When the headline is
    too long, the figure and the threshold are kept and the alert's name is what gets cut."""
    prefix = "[test] " if n.test else ""
    tail = f" {link}"
    whole = sanitize_gsm7(f"CostPilot: {prefix}{n.headline}") + tail
    if (septets(whole) or 0) <= SEGMENT_SEPTETS:
        return whole
    figure = figure_text(n)
    facts = f": {sanitize_gsm7(n.figure_label)} {figure}" if figure else ""
    if figure and n.threshold is not None:
        facts += f" vs {sanitize_gsm7(money(Decimal(n.threshold), n.currency))}"
    return fit_one_segment(f"CostPilot: {prefix}", n.alert_name or n.kind, facts + tail)


def render_code(code: str, minutes: int) -> str:
    return f"Your CostPilot verification code is {code}. It expires in {minutes} minutes."
