"""AI Suggest's phrase grammar (engine.suggest, pure), sentence by sentence: the exact draft, that
the engine accepts it, and that the draft fires (or not) on sample events run through the engine itself.

Each case: a sentence (English or Bahasa Indonesia, casual spellings included), the draft's
conditions and actions, and two samples: an event the rule must fire on and one it must not.
A sample is {"msg": Message overrides, "lead": Lead overrides, "at": hour in Jakarta,
"from": previous status (status-change rules), "new": the message creates the lead}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.evaluate import process_lead_event, process_message
from engine.model import DEFAULT_STATUSES
from engine.rules import default_env, parse_rule
from engine.ruleset import RuleSet
from engine.suggest.describe import describe_condition
from engine.suggest.grammar import negate, suggest
from engine.suggest.meaning import Meaning
from engine.suggest.words import EXAMPLES
from tests.engine.engine_factories import NOW, TZ, make_lead, make_message

Sample = dict[str, Any]


@dataclass(frozen=True)
class Case:
    sentence: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    fires: Sample
    misses: Sample
    sender: str = "customer"
    trigger: str = "message.received"
    extra: dict[str, Any] = field(default_factory=dict)  # other rule keys to check (stop_processing)


def c(field_name: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field_name, "op": op, "value": value}


IMAGE = {"type": "image", "has_media": True, "text": ""}
GROUP = {"is_group": True, "chat": "120363000000000001@g.us"}
CASES = [
    Case("kalau customer bilang transfer atau sudah bayar dan status hot, ubah ke purchase dan ambil nominal Rp",
         [c("message.text", "contains", "transfer, sudah bayar"), c("lead.status", "equal", "hot")],
         [{"type": "set_status", "status": "purchase"},
          {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"}],
         {"msg": {"text": "Sudah bayar ya kak Rp 150.000"}, "lead": {"status": "hot"}},
         {"msg": {"text": "Sudah bayar ya kak"}, "lead": {"status": "new"}}),
    Case("if the customer sends a photo outside office hours, add tag payment-proof and reply 'thanks, we will check'",
         [c("message.type", "equal", "image"), c("time.local", "between", "17:00-09:00")],
         [{"type": "add_tag", "tag": "payment-proof"}, {"type": "send_reply", "text": "thanks, we will check"}],
         {"msg": IMAGE, "at": 20}, {"msg": IMAGE, "at": 10}),
    Case("kalau customer kirim bukti transfer di luar jam kerja, tambah tag bukti-bayar dan balas 'terima kasih, "
         "kami cek dulu'",
         [c("message.type", "equal", "image"), c("time.local", "between", "17:00-09:00")],
         [{"type": "add_tag", "tag": "bukti-bayar"}, {"type": "send_reply", "text": "terima kasih, kami cek dulu"}],
         {"msg": IMAGE, "at": 6}, {"msg": {"text": "sudah transfer"}, "at": 6}),
    Case("if customer messages between 9 and 17, add tag office-hours",
         [c("time.local", "between", "09:00-17:00")], [{"type": "add_tag", "tag": "office-hours"}],
         {"at": 16}, {"at": 17}),
    Case("kalo ada chat masuk jam 09:00-17:00 dan customer nanya harga, balas 'Harga ada di katalog ya kak'",
         [c("time.local", "between", "09:00-17:00"), c("message.text", "contains", "harga")],
         [{"type": "send_reply", "text": "Harga ada di katalog ya kak"}],
         {"msg": {"text": "harganya berapa kak?"}, "at": 9}, {"msg": {"text": "harganya berapa kak?"}, "at": 22}),
    Case('jika pesan masuk diluar jam kantor, balas "Maaf kami sedang tutup"',
         [c("time.local", "between", "17:00-09:00")], [{"type": "send_reply", "text": "Maaf kami sedang tutup"}],
         {"at": 23}, {"at": 12}),
    Case('if not between 9 and 17, reply "We are closed, we will answer tomorrow"',
         [c("time.local", "between", "17:00-09:00")],
         [{"type": "send_reply", "text": "We are closed, we will answer tomorrow"}], {"at": 8}, {"at": 9}),
    Case("if customer messages from 9 to 5, add tag day",
         [c("time.local", "between", "09:00-17:00")], [{"type": "add_tag", "tag": "day"}], {"at": 15}, {"at": 5}),
    Case("when the customer sends a document or a video, add tag file",
         [c("message.type", "in_list", "document, video")], [{"type": "add_tag", "tag": "file"}],
         {"msg": {"type": "video", "has_media": True}}, {"msg": IMAGE}),
    Case("kalau pelanggan kirim voice note, tambah skor 5",
         [c("message.type", "equal", "audio")], [{"type": "adjust_score", "by": 5}],
         {"msg": {"type": "audio", "has_media": True, "text": ""}}, {"msg": {"text": "vn ya"}}),
    Case("if the message has media and is not in a group, add 5 points",
         [c("message.has_media", "equal", True), c("message.is_group", "equal", False)],
         [{"type": "adjust_score", "by": 5}],
         {"msg": IMAGE}, {"msg": {**IMAGE, **GROUP}}),
    Case("kalau di grup dan customer bilang promo, hapus tag vip",
         [c("message.is_group", "equal", True), c("message.text", "contains", "promo")],
         [{"type": "remove_tag", "tag": "vip"}],
         {"msg": {"text": "ada promo?", **GROUP}, "lead": {"tags": frozenset({"vip"})}},
         {"msg": {"text": "ada promo?"}, "lead": {"tags": frozenset({"vip"})}}),
    Case("kalau bukan grup dan chat pertama, balas 'Halo kak, ada yang bisa dibantu?'",
         [c("message.is_group", "equal", False), c("message.first_contact", "equal", True)],
         [{"type": "send_reply", "text": "Halo kak, ada yang bisa dibantu?"}],
         {"lead": {"chat_count": 0}}, {"lead": {"chat_count": 4}}),
    Case("if this is the first message and it comes from instagram ads, add tag ig-lead",
         [c("message.first_contact", "equal", True), c("lead.utm_source", "contains", "instagram, ig")],
         [{"type": "add_tag", "tag": "ig-lead"}],
         {"lead": {"chat_count": 0, "utm_source": "ig"}}, {"lead": {"chat_count": 0, "utm_source": "google"}}),
    Case("kalau sudah lebih dari 3 pesan dan status masih new, pindahkan ke responded",
         [c("chat.count", "gt", 3), c("lead.status", "equal", "new")], [{"type": "set_status", "status": "responded"}],
         {"lead": {"chat_count": 3}}, {"lead": {"chat_count": 2}}),
    Case("when customer sends more than 5 messages, add tag chatty",
         [c("chat.count", "gt", 5)], [{"type": "add_tag", "tag": "chatty"}],
         {"lead": {"chat_count": 5}}, {"lead": {"chat_count": 4}}),
    Case("dari iklan facebook, tambah tag fb dan tambah skor 10",
         [c("lead.utm_source", "contains", "facebook, fb")],
         [{"type": "add_tag", "tag": "fb"}, {"type": "adjust_score", "by": 10}],
         {"lead": {"utm_source": "facebook"}}, {"lead": {"utm_source": "tiktok"}}),
    Case("utm_source is fb then add tag fb-ads",
         [c("lead.utm_source", "equal", "fb")], [{"type": "add_tag", "tag": "fb-ads"}],
         {"lead": {"utm_source": "FB"}}, {"lead": {}}),
    Case("kalau campaign ramadan dan bilang promo, tambah tag ramadan",
         [c("lead.utm_campaign", "contains", "ramadan"), c("message.text", "contains", "promo")],
         [{"type": "add_tag", "tag": "ramadan"}],
         {"msg": {"text": "promo masih ada?"}, "lead": {"utm_campaign": "ramadan-promo"}},
         {"msg": {"text": "promo masih ada?"}, "lead": {"utm_campaign": "lebaran"}}),
    Case("kalau customer gak bilang terima kasih, kurangi skor 2",
         [c("message.text", "not_contains", "terima kasih")], [{"type": "adjust_score", "by": -2}],
         {"msg": {"text": "ok"}}, {"msg": {"text": "Terima  kasih kak"}}),
    Case("if customer doesn't send a photo and status is hot, add tag waiting-proof",
         [c("message.type", "not_equal", "image"), c("lead.status", "equal", "hot")],
         [{"type": "add_tag", "tag": "waiting-proof"}],
         {"msg": {"text": "nanti ya"}, "lead": {"status": "hot"}}, {"msg": IMAGE, "lead": {"status": "hot"}}),
    Case("status bukan lost dan customer bilang order, ubah ke hot",
         [c("lead.status", "not_equal", "lost"), c("message.text", "contains", "order")],
         [{"type": "set_status", "status": "hot"}],
         {"msg": {"text": "mau order"}, "lead": {"status": "responded"}},
         {"msg": {"text": "mau order"}, "lead": {"status": "lost"}}),
    Case('kalau CS/admin kirim "pembayaran diterima", ubah ke purchase dan ambil nominal Rp',
         [c("message.text", "contains", "pembayaran diterima")],
         [{"type": "set_status", "status": "purchase"},
          {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"}],
         {"msg": {"text": "Pembayaran diterima Rp 1.500.000", "from_me": True}, "lead": {"status": "hot"}},
         {"msg": {"text": "Pembayaran diterima Rp 1.500.000"}, "lead": {"status": "hot"}}, sender="team"),
    Case("when CS says payment received, capture the amount and change to purchase",
         [c("message.text", "contains", "payment received")],
         [{"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"},
          {"type": "set_status", "status": "purchase"}],
         {"msg": {"text": "Payment received, Rp 200.000", "from_me": True}},
         {"msg": {"text": "payment received?"}}, sender="team"),
    Case("if customer says order, buy or booking and status is responded, mark as hot",
         [c("message.text", "contains", "order, buy, booking"), c("lead.status", "equal", "responded")],
         [{"type": "set_status", "status": "hot"}],
         {"msg": {"text": "I want to buy 2"}, "lead": {"status": "responded"}},
         {"msg": {"text": "just looking"}, "lead": {"status": "responded"}}),
    Case("kalau status berubah ke won, kirim webhook ke https://crm.example.com/hook",
         [c("status.to", "equal", "won")], [{"type": "send_webhook", "url": "https://crm.example.com/hook"}],
         {"lead": {"status": "won"}, "from": "hot"}, {"lead": {"status": "lost"}, "from": "hot"},
         sender="all", trigger="lead.status_changed"),
    Case("kalau lead baru dan bilang harga, balas 'Halo kak, ini katalog kami'",
         [c("message.text", "contains", "harga")], [{"type": "send_reply", "text": "Halo kak, ini katalog kami"}],
         {"msg": {"text": "harga berapa?"}, "new": True}, {"msg": {"text": "harga berapa?"}},
         sender="all", trigger="lead.created"),
    Case("kalo customer udh trf, ubah ke purchase",
         [c("message.text", "contains", "trf")], [{"type": "set_status", "status": "purchase"}],
         {"msg": {"text": "udh trf kak"}}, {"msg": {"text": "besok ya"}}),
    Case("kalau customer bilang promo atau kirim gambar, tambah tag minat",
         [{"any": [c("message.text", "contains", "promo"), c("message.type", "equal", "image")]}],
         [{"type": "add_tag", "tag": "minat"}],
         {"msg": IMAGE}, {"msg": {"text": "halo"}}),
    Case("kalau customer bilang harga kecuali di grup, balas 'cek katalog ya kak'",
         [c("message.text", "contains", "harga"), c("message.is_group", "equal", False)],
         [{"type": "send_reply", "text": "cek katalog ya kak"}],
         {"msg": {"text": "harga?"}}, {"msg": {"text": "harga?", **GROUP}}),
    Case("tag vip kalau customer kirim lebih dari 10 pesan",
         [c("chat.count", "gt", 10)], [{"type": "add_tag", "tag": "vip"}],
         {"lead": {"chat_count": 10}}, {"lead": {"chat_count": 3}}),
    Case('kalau pesannya diawali "#order", ubah ke hot',
         [c("message.text", "starts_with", "#order")], [{"type": "set_status", "status": "hot"}],
         {"msg": {"text": "#ORDER kaos 2"}}, {"msg": {"text": "mau #order"}}),
    Case("kalau skor lebih dari 50, ubah ke hot",
         [c("lead.score", "gt", 50)], [{"type": "set_status", "status": "hot"}],
         {"lead": {"score": 60}}, {"lead": {"score": 50}}),
    Case("if the lead has tag vip and says komplain, set priority to urgent",
         [c("lead.tags", "equal", "vip"), c("message.text", "contains", "komplain")],
         [{"type": "set_field", "field": "lead.priority", "value": "urgent"}],
         {"msg": {"text": "mau komplain"}, "lead": {"tags": frozenset({"vip"})}},
         {"msg": {"text": "mau komplain"}, "lead": {"tags": frozenset({"vip-2"})}}),
    Case("when a customer from qontak sends a sticker, add tag fun",
         [c("message.partner_source", "equal", "qontak"), c("message.type", "equal", "sticker")],
         [{"type": "add_tag", "tag": "fun"}],
         {"msg": {"type": "sticker", "has_media": True, "partner_source": "qontak"}},
         {"msg": {"type": "sticker", "has_media": True}}),
    Case("if the customer sends a message with the word refund, remove tag happy and stop processing",
         [c("message.text", "contains", "refund")], [{"type": "remove_tag", "tag": "happy"}],
         {"msg": {"text": "I want a REFUND"}}, {"msg": {"text": "thanks"}}, extra={"stop_processing": True}),
]


def _fired(rule: dict[str, Any], sample: Sample) -> bool:
    """Run the sample event through the engine with the draft as the only rule."""
    parsed = parse_rule(rule, "rule", default_env(DEFAULT_STATUSES)).with_id(1)
    ruleset = RuleSet([parsed], DEFAULT_STATUSES)
    lead = make_lead(**sample.get("lead", {}))
    if rule["trigger"] == "lead.status_changed":
        outcome = process_lead_event(ruleset, lead, rule["trigger"], now=NOW, tz=TZ, status_from=sample["from"])
    else:
        overrides = dict(sample.get("msg", {}))
        if "at" in sample:  # an hour of the day in Jakarta (UTC+7), on NOW's date
            overrides["timestamp"] = NOW.replace(hour=(sample["at"] - 7) % 24)
        message = make_message(**overrides)
        outcome = process_message(ruleset, None if sample.get("new") else lead, message, now=NOW, tz=TZ)
    assert not [run.error for run in outcome.runs if run.error]
    return any(run.fired and run.rule_id == 1 for run in outcome.runs)


@pytest.mark.parametrize("case", CASES, ids=[case.sentence[:48] for case in CASES])
def test_sentence_gives_the_exact_draft_and_it_fires(case: Case) -> None:
    result = suggest(case.sentence, DEFAULT_STATUSES)
    assert result["ok"] is True, result["message"]
    assert result["not_understood"] == [], result["not_understood"]
    rule = result["rule"]
    assert rule["conditions"] == case.conditions
    assert rule["actions"] == case.actions
    assert (rule["sender"], rule["trigger"]) == (case.sender, case.trigger)
    for key, value in case.extra.items():
        assert rule[key] == value
    parse_rule(rule, "rule", default_env(DEFAULT_STATUSES))
    assert _fired(rule, case.fires) is True
    assert _fired(rule, case.misses) is False


@pytest.mark.parametrize("case", CASES, ids=[case.sentence[:48] for case in CASES])
def test_spans_are_what_was_typed(case: Case) -> None:
    understood = suggest(case.sentence, DEFAULT_STATUSES)["understood"]
    assert understood
    at = 0
    for span in understood:
        assert span["start"] >= at and span["end"] > span["start"], "sorted and not overlapping"
        assert case.sentence[span["start"]:span["end"]] == span["text"]
        assert span["meaning"]
        at = span["end"]


def test_spans_name_what_each_part_means() -> None:
    result = suggest("if the customer sends a photo outside office hours, add tag payment-proof and reply 'thanks'",
                     DEFAULT_STATUSES)
    assert [(s["text"], s["meaning"]) for s in result["understood"]] == [
        ("sends a photo", "Message Type equal image"),
        ("outside office hours", "Time Window between 17:00-09:00 (office hours read as 09:00-17:00)"),
        ("add tag payment-proof", "Add Tag payment-proof"),
        ("reply 'thanks'", "Send Reply “thanks”"),
    ]
    either = suggest("kalau customer bilang promo atau kirim gambar, tambah tag minat", DEFAULT_STATUSES)
    assert [s["text"] for s in either["understood"]] == ["bilang promo", "atau", "kirim gambar", "tambah tag minat"]
    assert either["understood"][1]["meaning"].startswith("OR")


@pytest.mark.parametrize(("sentence", "not_understood"), [
    ("asdf qwer zxcv", ["asdf", "qwer", "zxcv"]),
    ("lorem ipsum dolor sit amet", ["lorem", "ipsum", "dolor", "sit", "amet"]),
    ("tolong bikinkan yang bagus", ["bikinkan", "bagus"]),
    ("kalau dan yang atau", []),
    ("the a an and", []),
    ("???", []),
    ("balas terima kasih", ["balas", "terima", "kasih"]),
    ("kirim webhook ke ftp://x.y", ["kirim", "webhook", "ftp", "x", "y"]),
    ("tambah tag", ["tambah", "tag"]),
    ("between 25 and 30", ["between"]),
])
def test_refuses_what_it_does_not_understand(sentence: str, not_understood: list[str]) -> None:
    result = suggest(sentence, DEFAULT_STATUSES)
    assert result["ok"] is False and result["rule"] is None
    assert result["not_understood"] == not_understood
    assert result["message"].startswith("I did not understand this sentence")
    for word in not_understood:
        assert word in result["message"]
    assert EXAMPLES[0] in result["message"]  # a sentence that works
    assert result["understood"] == []  # nothing made up


def test_conditions_without_an_action_are_refused() -> None:
    result = suggest("kalau customer kirim gambar di luar jam kerja", DEFAULT_STATUSES)
    assert result["ok"] is False and result["rule"] is None
    assert result["message"].startswith("I did not understand what to do")
    assert [s["text"] for s in result["understood"]] == ["kirim gambar", "di luar jam kerja"]
    unquoted = suggest("kalau customer bilang promo, balas terima kasih", DEFAULT_STATUSES)
    assert unquoted["ok"] is False and unquoted["not_understood"] == ["balas", "terima", "kasih"]
    assert "put the reply in quotes" in unquoted["message"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_examples_it_offers_work(example: str) -> None:
    result = suggest(example.strip("“”"), DEFAULT_STATUSES)
    assert result["ok"] is True and result["not_understood"] == []


def test_words_it_did_not_match_are_reported_not_guessed() -> None:
    result = suggest("if customer is from jakarta on weekends, add tag jkt", DEFAULT_STATUSES)
    assert result["ok"] is True and result["rule"]["conditions"] == []
    assert result["not_understood"] == ["jakarta", "weekends"]
    assert result["message"].startswith("Not understood: jakarta, weekends. No condition understood")


def test_reported_speech_stays_a_keyword() -> None:
    said = suggest("kalau customer bilang mau kirim foto, tambah tag foto", DEFAULT_STATUSES)["rule"]
    assert said["conditions"] == [c("message.text", "contains", "mau kirim foto")]
    both = suggest("kalau customer bilang promo dan kirim foto, tambah tag foto", DEFAULT_STATUSES)["rule"]
    assert both["conditions"] == [c("message.text", "contains", "promo"), c("message.type", "equal", "image")]


def test_nothing_is_read_inside_quotes() -> None:
    rule = suggest("balas 'status hot, ubah ke purchase dan tambah tag vip' kalau chat pertama",
                   DEFAULT_STATUSES)["rule"]
    assert rule["conditions"] == [c("message.first_contact", "equal", True)]
    assert rule["actions"] == [{"type": "send_reply", "text": "status hot, ubah ke purchase dan tambah tag vip"}]


def test_the_workspace_statuses_are_the_vocabulary() -> None:
    statuses = ("Baru", "Follow Up", "Deal", "Batal")
    rule = suggest("kalau status follow up dan bilang jadi, ubah ke deal", statuses)["rule"]
    assert rule["conditions"] == [c("lead.status", "equal", "Follow Up"), c("message.text", "contains", "jadi")]
    assert rule["actions"] == [{"type": "set_status", "status": "Deal"}]
    parse_rule(rule, "rule", default_env(statuses))
    assert suggest("ubah ke hot", statuses)["ok"] is False  # not a status of this workspace


def test_an_invalid_reply_template_is_refused_with_the_engine_reason() -> None:
    result = suggest("balas 'Halo {nama}' kalau chat pertama", DEFAULT_STATUSES)
    assert result["ok"] is False and result["rule"] is None
    assert "{nama}" in result["message"] and result["message"].startswith("The draft would not be a valid rule")


@pytest.mark.parametrize(("window", "negated"), [("09:00-17:00", "17:00-09:00"), ("21:00-00:00", "00:00-21:00")])
def test_negating_a_time_window_is_the_rest_of_the_day(window: str, negated: str) -> None:
    meaning = negate(Meaning(conditions=(c("time.local", "between", window),)))
    assert meaning.conditions == (c("time.local", "between", negated),)


def test_negation_without_an_opposite_operator_is_a_none_group() -> None:
    meaning = negate(Meaning(conditions=(c("message.text", "starts_with", "#order"),)))
    assert meaning.conditions == ({"not": {"any": [c("message.text", "starts_with", "#order")]}},)
    assert describe_condition(meaning.conditions[0]) == "NONE of: Message starts with “#order”"


def test_every_sentence_is_read_the_same_way_twice() -> None:
    for case in CASES:
        assert suggest(case.sentence, DEFAULT_STATUSES) == suggest(case.sentence, DEFAULT_STATUSES)


ISSUE = "kalau customer bilang transfer atau sudah bayar dan status hot, ubah ke purchase dan ambil nominal Rp"


def test_the_issue_sentence_in_bahasa() -> None:
    result = suggest(ISSUE, DEFAULT_STATUSES)
    assert result["ok"] is True and result["not_understood"] == []
    rule = result["rule"]
    assert rule["conditions"] == [{"field": "message.text", "op": "contains", "value": "transfer, sudah bayar"},
                                  {"field": "lead.status", "op": "equal", "value": "hot"}]
    assert rule["actions"] == [{"type": "set_status", "status": "purchase"},
                               {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"}]
    assert [span["text"] for span in result["understood"]] == [
        "bilang transfer atau sudah bayar", "status hot", "ubah ke purchase", "ambil nominal Rp"]
    for span in result["understood"]:
        assert ISSUE[span["start"]:span["end"]] == span["text"]
    assert rule["name"] == "Suggested: kalau customer bilang transfer atau sudah bayar dan status…"
    parse_rule(rule, "rule", default_env(DEFAULT_STATUSES))  # a valid rule


@pytest.mark.parametrize(("sentence", "conditions", "actions"), [
    ("if the customer says order or buy and status is responded, change to hot",
     [("message.text", "contains", "order, buy"), ("lead.status", "equal", "responded")], [("set_status", "hot")]),
    ("when customer sends more than 2 messages and status new, move to responded and add tag active",
     [("chat.count", "gt", 2), ("lead.status", "equal", "new")], [("set_status", "responded"), ("add_tag", "active")]),
    ('jika pelanggan menulis "harga" maka balas "Harga mulai Rp 100.000"',
     [("message.text", "contains", "harga")], [("send_reply", "Harga mulai Rp 100.000")]),
])
def test_more_sentences(sentence: str, conditions: list[tuple[str, str, Any]], actions: list[tuple[str, Any]]) -> None:
    result = suggest(sentence, DEFAULT_STATUSES)
    assert result["ok"] is True, result
    rule = result["rule"]
    assert [(c["field"], c["op"], c["value"]) for c in rule["conditions"]] == conditions
    assert [(a["type"], next(v for k, v in a.items() if k != "type")) for a in rule["actions"]] == actions
    parse_rule(rule, "rule", default_env(DEFAULT_STATUSES))


def test_says_clearly_when_it_did_not_understand() -> None:
    nothing = suggest("tolong bikinkan yang bagus", DEFAULT_STATUSES)
    assert nothing["ok"] is False and nothing["rule"] is None
    assert nothing["message"].startswith("I did not understand this sentence")
    assert nothing["not_understood"] == ["bikinkan", "bagus"]
    no_action = suggest("kalau customer bilang halo", DEFAULT_STATUSES)
    assert no_action["ok"] is False and no_action["message"].startswith("I did not understand what to do")
    partial = suggest("if customer says promo, change to hot and call grandma", DEFAULT_STATUSES)
    assert partial["ok"] is True and partial["message"].startswith("Not understood: call, grandma.")


def test_is_deterministic() -> None:
    assert suggest(ISSUE, DEFAULT_STATUSES) == suggest(ISSUE, DEFAULT_STATUSES)


# Sentences whose condition the grammar does not read (issue #15): the draft must say so, as data
# a page can show as a warning, and in the command line's message.
@pytest.mark.parametrize(("sentence", "words"), [
    ("when a customer asks about the price and the lead is still new, move it to responded", ["still"]),
    ("kalau customer tanya harga tapi masih baru, ubah ke responded", ["tapi", "masih"]),
    ("if the customer says order unless it is a group, change to hot", ["unless"]),
])
def test_a_condition_it_did_not_read_is_a_warning(sentence: str, words: list[str]) -> None:
    result = suggest(sentence, DEFAULT_STATUSES)
    unread = [w for w in result["warnings"] if w["code"] == "unread_condition"]
    assert unread and set(words) <= set(unread[0]["words"]), result
    assert result["message"].startswith("Check the conditions before saving")


def test_a_clean_sentence_has_no_warnings() -> None:
    result = suggest("kalau sudah lebih dari 3 pesan dan status masih new, pindahkan ke responded", DEFAULT_STATUSES)
    assert result["ok"] is True and result["warnings"] == []
    ignored = suggest("if customer is from jakarta on weekends, add tag jkt", DEFAULT_STATUSES)
    assert ignored["warnings"] == [{"code": "ignored_words", "words": ["jakarta", "weekends"]}]


def test_what_was_understood_reads_in_the_language_a_page_passes() -> None:
    """`meaning_text` is `meaning` said through the page's gettext (bridge.i18n; here Indonesian),
    notes with their arguments included; without one it is the English `meaning`."""
    from zoneinfo import ZoneInfo

    from bridge.i18n import Wording

    indonesian = Wording("id", ZoneInfo("Asia/Jakarta")).gettext
    result = suggest("antara jam 9 sampai 5 tambah tag kerja", DEFAULT_STATUSES, indonesian)
    assert [(s["meaning"], s["meaning_text"]) for s in result["understood"]] == [
        ("Time Window between 09:00-17:00 (“5” read as 17:00)",
         "Rentang Waktu di antara 09:00-17:00 (“5” dibaca sebagai 17:00)"),
        ("Add Tag kerja", "Tambah Tag kerja"),
    ]
    english = suggest("antara jam 9 sampai 5 tambah tag kerja", DEFAULT_STATUSES)
    assert all(s["meaning_text"] == s["meaning"] for s in english["understood"])
