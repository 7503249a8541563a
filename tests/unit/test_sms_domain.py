"""SMS domain: E.164 numbers, GSM-7 counting (extension characters take 2 septets), sanitising to
GSM-7, one-segment fitting of alert texts, and Twilio's webhook signature."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.domain import sms, twilio_signature
from chalicelib.domain.alert_messages import Notification


@pytest.mark.parametrize("raw, expected", [
    ("+14155550123", "+14155550123"),
    (" +1 (415) 555-0123 ", "+14155550123"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+33.6.12.34.56.78", "+33612345678"),
])
def test_e164_accepts_international_forms(raw, expected):
    assert sms.normalize_e164(raw) == expected


@pytest.mark.parametrize("raw", ["", "4155550123", "0044 20 7946 0958", "+0123456789", "+1234", "+1234567890123456",
                                 "+1415555abcd", "+1 415 555 0123 ext 2", "tel:+14155550123", "+" + "1" * 40])
def test_e164_refuses_the_rest(raw):
    with pytest.raises(sms.InvalidNumber):
        sms.normalize_e164(raw)


def test_mask_keeps_country_and_last_four():
    assert sms.mask("+14155550123") == "+1******0123"


def test_septets_count_extension_characters_twice():
    assert sms.septets("Hello @£$") == 9
    assert sms.septets("[1]") == 5
    assert sms.septets("€5 {x} ~^|\\") == 2 + 1 + 1 + 2 + 1 + 2 + 1 + 2 + 2 + 2 + 2
    assert sms.septets("naïve") is None  # ï is not GSM-7
    assert sms.septets("emoji 🙂") is None


def test_segments_gsm7_and_ucs2():
    assert sms.segments("a" * 160) == 1
    assert sms.segments("a" * 161) == 2
    assert sms.segments("€" * 80) == 1  # 160 septets
    assert sms.segments("€" * 81) == 2
    assert sms.segments("a" * 306) == 2 and sms.segments("a" * 307) == 3
    assert sms.segments("ł" * 70) == 1 and sms.segments("ł" * 71) == 2  # UCS-2
    assert sms.segments("a" * 69 + "🙂") == 2  # a surrogate pair is two UTF-16 units


def test_sanitize_to_gsm7():
    assert sms.sanitize_gsm7("Team “Ops” – café’s naïve budget…") == "Team \"Ops\" - café's naive budget..."
    assert sms.sanitize_gsm7("Łódź\tline\nbreak 🙂") == "?odz line break ?"
    assert sms.is_gsm7(sms.sanitize_gsm7("Ωmega ±5° ™ ∑"))


def test_truncate_counts_extension_characters():
    assert sms.truncate_septets("abcdef", 6) == "abcdef"
    assert sms.truncate_septets("abcdefg", 6) == "abc..."
    assert sms.truncate_septets("[[[[", 7) == "[[..."  # two 2-septet chars + 3 for the dots


def _notification(**kw):
    base = {"workspace_id": "ws_1", "alert_id": "al_1", "alert_name": "OpenAI this week", "kind": "threshold",
                "key": "al_1:2026-W49:100", "headline": "OpenAI spend is $55.50 this week, over your $50.00 threshold",
                "figure": Decimal("55.5"), "threshold": Decimal(50)}
    return Notification(**{**base, **kw})


LINK = "https://app.example.com/s/Ab3dE6gH"


def test_alert_sms_has_figure_and_link_in_one_segment():
    text = sms.render_alert(_notification(), LINK)
    assert text == f"CostPilot: OpenAI spend is $55.50 this week, over your $50.00 threshold {LINK}"
    assert sms.segments(text) == 1 and sms.is_gsm7(text)


def test_long_non_gsm_name_is_sanitised_and_cut_but_keeps_figure_and_link():
    name = "Équipe “données” 🚀 " + "très long nom " * 20
    n = _notification(alert_name=name, headline=f"{name} spend is €1,234.57 this month, over your €1,000.00 threshold",
                      figure=Decimal("1234.5678"), threshold=Decimal(1000), currency="EUR")
    text = sms.render_alert(n, LINK)
    assert sms.is_gsm7(text) and sms.septets(text) <= 160 and sms.segments(text) == 1
    assert text.endswith(f"Spend €1,234.57 vs €1,000.00 {LINK}")
    assert "..." in text and text.startswith("CostPilot: Équipe \"données\" ?")


def test_sub_cent_figures_stay_exact():
    n = _notification(headline="x" * 200, figure=Decimal("0.0042"), threshold=None)
    assert "$0.0042" in sms.render_alert(n, LINK)


def test_fit_refuses_fixed_parts_over_a_segment():
    with pytest.raises(ValueError):
        sms.fit_one_segment("a" * 100, "b", "c" * 61)


def test_twilio_signature_matches_twilio_pythons_reference_vector():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309",
              "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature.compute("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature.valid("12345", url, params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not twilio_signature.valid("12345", url + "&x=1", params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not twilio_signature.valid("12345", url, params.items(), None)
    assert not twilio_signature.valid("", url, params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
