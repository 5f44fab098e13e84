"""engine.attribution: visitor codes, finding them in text, the upgrade decision, the merge."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.attribution import (
    ALPHABET,
    AMBIGUOUS,
    EXPIRED,
    OTHER_NUMBER,
    OTHER_WORKSPACE,
    UNKNOWN,
    USED,
    Upgrade,
    Visitor,
    code_from_bytes,
    decide,
    message_codes,
    normalise_code,
    scan_codes,
)
from engine.errors import RuleSetError
from engine.evaluate import process_message
from engine.model import Referral
from tests.engine.engine_factories import ADMIN, NOW, TZ, leaf, make_lead, make_message, make_ruleset, rule

WS = "Toko Budi"


def visitor(code: str = "K-7QX4", **overrides: object) -> Visitor:
    values: dict[str, object] = {
        "code": code, "workspace": WS, "number": ADMIN, "state": "waiting",
        "expires_at": NOW + timedelta(days=7), "source": "website", "utm_source": "facebook",
        "utm_medium": "cpc", "utm_campaign": "ramadan-promo", "fbclid": "fb.1.abc",
    }
    values.update(overrides)
    return Visitor(**values)  # type: ignore[arg-type]


def test_codes_use_the_unambiguous_alphabet() -> None:
    assert not set("01OIL") & set(ALPHABET)
    for _ in range(200):
        code = code_from_bytes(secrets.token_bytes(16))
        assert code.startswith("K-") and len(code) == 6
        assert all(ch in ALPHABET for ch in code[2:])


def test_code_from_bytes_is_deterministic_and_refuses_too_few_bytes() -> None:
    assert code_from_bytes(bytes([0, 1, 2, 3])) == "K-2345"
    with pytest.raises(ValueError):
        code_from_bytes(bytes([255, 255, 255, 255, 0]))  # 255 is rejected (bias), too few left


@pytest.mark.parametrize(("text", "codes", "bracketed"), [
    ("Halo kak, saya mau tanya [K-7QX4]", ("K-7QX4",), True),
    ("halo [k-7qx4]", ("K-7QX4",), True),
    ("halo [ K – 7QX4 ]", ("K-7QX4",), True),
    ("halo [K7QX4]", (), False),  # the dash is part of the code
    ("[kapan] ya", (), False),
    ("kode saya K-7QX4 ya", ("K-7QX4",), False),
    ("kode saya k-7qx4.", ("K-7QX4",), False),
    ("[K-7QX4] dan K-ABCD", ("K-7QX4",), True),  # brackets win
    ("[K-7QX4] [K-ABCD]", ("K-7QX4", "K-ABCD"), True),
    ("OK-7QX4 is a word", (), False),  # inside a longer token
    ("K-7QX45", (), False),
    ("K-POP", (), False),
    ("K-F00D", (), False),  # 0 is not in the alphabet
    ("[K-7QX4] again [k-7qx4]", ("K-7QX4",), True),
    ("no code here", (), False),
])
def test_scan_codes(text: str, codes: tuple[str, ...], bracketed: bool) -> None:
    scan = scan_codes(text)
    assert scan.codes == codes
    if codes:
        assert scan.bracketed is bracketed


@given(st.binary(min_size=16, max_size=32))
def test_every_generated_code_is_found_in_its_greeting(raw: bytes) -> None:
    code = code_from_bytes(raw)
    assert scan_codes(f"Halo kak, saya mau tanya [{code}]").codes == (code,)
    assert scan_codes(f"halo [{code.lower()}]").codes == (code,)
    assert normalise_code(code.lower()) == code


def test_team_and_group_messages_carry_no_codes() -> None:
    assert message_codes(make_message(text="[K-7QX4]", from_me=True)).codes == ()
    assert message_codes(make_message(text="[K-7QX4]", is_group=True, chat="1203@g.us")).codes == ()


def _decide(text: str, visitors: dict[str, Visitor], **kw: object):  # type: ignore[no-untyped-def]
    message = make_message(text=text)
    return decide(scan_codes(text), visitors, message=message, now=NOW, workspace=WS, **kw)  # type: ignore[arg-type]


def test_decide_accepts_one_live_code() -> None:
    decision = _decide("halo [K-7QX4]", {"K-7QX4": visitor()})
    assert decision.upgrade is not None and decision.upgrade.code == "K-7QX4"
    assert decision.upgrade.values["utm_campaign"] == "ramadan-promo"
    assert decision.ignored == ()


@pytest.mark.parametrize(("known", "reason", "kw"), [
    ({}, UNKNOWN, {}),
    ({"K-7QX4": visitor(state="upgraded")}, USED, {}),
    ({"K-7QX4": visitor()}, USED, {"used": {"K-7QX4"}}),
    ({"K-7QX4": visitor(state="expired")}, EXPIRED, {}),
    ({"K-7QX4": visitor(expires_at=NOW)}, EXPIRED, {}),
    ({"K-7QX4": visitor(workspace="Another shop")}, OTHER_WORKSPACE, {}),
])
def test_decide_ignores_with_a_reason(known: dict[str, Visitor], reason: str, kw: dict[str, object]) -> None:
    decision = _decide("halo [K-7QX4]", known, **kw)
    assert decision.upgrade is None
    assert [(i.code, i.reason) for i in decision.ignored] == [("K-7QX4", reason)]


def test_bare_code_must_belong_to_the_receiving_number() -> None:
    assert _decide("kode K-7QX4", {"K-7QX4": visitor()}).upgrade is not None
    other = _decide("kode K-7QX4", {"K-7QX4": visitor(number="6281100000002")})
    assert other.upgrade is None and other.ignored[0].reason == OTHER_NUMBER
    # Brackets are explicit: the code counts wherever the customer sent it.
    assert _decide("[K-7QX4]", {"K-7QX4": visitor(number="6281100000002")}).upgrade is not None


def test_two_live_codes_are_ambiguous_and_merge_nothing() -> None:
    decision = _decide("[K-7QX4] [K-ABCD]", {"K-7QX4": visitor(), "K-ABCD": visitor("K-ABCD")})
    assert decision.upgrade is None
    assert {(i.code, i.reason) for i in decision.ignored} == {("K-7QX4", AMBIGUOUS), ("K-ABCD", AMBIGUOUS)}


def test_one_live_and_one_used_code_upgrades_the_live_one() -> None:
    decision = _decide("[K-7QX4] [K-ABCD]", {"K-7QX4": visitor(), "K-ABCD": visitor("K-ABCD", state="upgraded")})
    assert decision.upgrade is not None and decision.upgrade.code == "K-7QX4"
    assert [(i.code, i.reason) for i in decision.ignored] == [("K-ABCD", USED)]


UPGRADE = Upgrade("K-7QX4", visitor().attribution())


def test_rules_see_the_attributed_lead_on_its_first_message() -> None:
    ruleset = make_ruleset([
        rule("created", trigger="lead.created", conditions=[leaf("lead.utm_campaign", "equal", "ramadan-promo")]),
        rule("received", conditions=[leaf("lead.utm_source", "equal", "facebook"),
                                     leaf("message.first_contact", "equal", True)]),
    ])
    outcome = process_message(ruleset, None, make_message(text="halo [K-7QX4]"), now=NOW, tz=TZ, upgrade=UPGRADE)
    lead = outcome.lead
    assert outcome.created
    assert (lead.source, lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.fbclid) == (
        "website", "facebook", "cpc", "ramadan-promo", "fb.1.abc")
    assert lead.tags == {"created", "received"}


def test_earlier_attribution_is_kept_unless_overwrite() -> None:
    ruleset = make_ruleset([])
    earlier = make_lead(source="ads", utm_campaign="old-campaign")
    kept = process_message(ruleset, earlier, make_message(text="[K-7QX4]"), now=NOW, tz=TZ, upgrade=UPGRADE).lead
    assert (kept.source, kept.utm_campaign, kept.utm_source) == ("ads", "old-campaign", None)
    overwrite = Upgrade("K-7QX4", visitor().attribution(), overwrite=True)
    replaced = process_message(ruleset, earlier, make_message(text="[K-7QX4]"), now=NOW, tz=TZ,
                               upgrade=overwrite).lead
    assert (replaced.source, replaced.utm_campaign, replaced.utm_source) == ("website", "ramadan-promo", "facebook")


def test_existing_lead_without_origin_gets_the_visitor_attribution() -> None:
    lead = make_lead(chat_count=3, name="Sari")
    out = process_message(make_ruleset([]), lead, make_message(text="[K-7QX4]"), now=NOW, tz=TZ,
                          upgrade=UPGRADE).lead
    assert (out.utm_campaign, out.chat_count) == ("ramadan-promo", 4)


# Click-to-WhatsApp ads (the referral the daemon's normalisation carries on a first message).
REFERRAL = Referral(source_id="120210000000001", source_type="ad", source_url="https://fb.me/ad",
                    ctwa_clid="ARAkLkA8rmlFeiCktEJQ")


def test_ctwa_referral_on_the_first_message_attributes_the_lead_to_ads() -> None:
    ruleset = make_ruleset([rule("mark-active", trigger="lead.created",
                                 conditions=[leaf("lead.source", "equal", "ads")])])
    outcome = process_message(ruleset, None, make_message(referral=REFERRAL), now=NOW, tz=TZ)
    lead = outcome.lead
    assert (lead.source, lead.ad_source_id, lead.ctwa_clid, lead.ad_source_url) == (
        "ads", "120210000000001", "ARAkLkA8rmlFeiCktEJQ", "https://fb.me/ad")
    assert "mark-active" in lead.tags  # lead.created rules see it


def test_ctwa_first_ad_wins_and_team_messages_do_not_attribute() -> None:
    ruleset = make_ruleset([])
    first = process_message(ruleset, None, make_message(referral=REFERRAL), now=NOW, tz=TZ).lead
    other = Referral(source_id="999", ctwa_clid="other-click")
    again = process_message(ruleset, first, make_message(referral=other), now=NOW, tz=TZ).lead
    assert (again.ad_source_id, again.ctwa_clid) == ("120210000000001", "ARAkLkA8rmlFeiCktEJQ")
    team = process_message(ruleset, make_lead(), make_message(from_me=True, referral=REFERRAL), now=NOW, tz=TZ).lead
    assert team.source is None and team.ctwa_clid is None
    # A lead that a rule or an import already gave a source keeps it; the ad ids are still recorded.
    sourced = process_message(ruleset, make_lead(source="website"), make_message(referral=REFERRAL),
                              now=NOW, tz=TZ).lead
    assert (sourced.source, sourced.ctwa_clid) == ("website", "ARAkLkA8rmlFeiCktEJQ")


def test_identity_upgrade_as_a_rule_action_is_refused_with_the_reason() -> None:
    with pytest.raises(RuleSetError) as refused:
        make_ruleset([rule("upgrade", actions=[{"type": "identity_upgrade"}])])
    assert "identity_upgrade is automatic" in str(refused.value)
