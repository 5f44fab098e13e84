"""AI Suggest's phrases: what the sentence grammar understands, as a registry.

A phrase is one `_phrase(pattern, build)` entry. Patterns run over the sentence lower-cased,
with quoted text masked (nothing is read inside quotes unless a phrase asks for %QUOTED%), and
use the %WORD% macros of engine.suggest.words (%STATUS% is the workspace's statuses).
Entries are tried in order and a span of the sentence belongs to the first entry that matches
it, so more specific phrases come first. `negatable` entries are also read after a negation
("tidak", "bukan", "doesn't", ...), which negates their condition (grammar.negate).

Message keywords are free text, read after the fixed phrases: `TEXT_HEADS` lists the verbs
("bilang", "says", ...) whose following words, up to the next understood phrase or clause, are
the keywords.
"""

from __future__ import annotations

import re
from typing import Any

from engine.suggest.meaning import (
    N_,
    Build,
    Hit,
    Meaning,
    Phrase,
    TextHead,
    act,
    leaf,
    one_or_list,
    open_window,
    window,
)
from engine.suggest.words import (
    ANY_TYPE,
    CLOCK_WORD,
    CONVERSIONS,
    OP_OF,
    PARTNERS,
    PLATFORMS,
    PRIORITIES,
    SOURCES,
    TIME,
    TYPE_OF,
)

PHRASES: list[Phrase] = []
TEXT_HEADS: list[TextHead] = []


def _phrase(pattern: str, build: Build, *, negatable: bool = False, late: bool = False) -> None:
    PHRASES.append(Phrase(pattern, build, negatable, late))


def _head(pattern: str, field_name: str, op: str) -> None:
    TEXT_HEADS.append(TextHead(pattern, field_name, op))


def _is(field_name: str, op: str, value: Any, note: str = "") -> Build:
    return lambda hit: Meaning(conditions=(leaf(field_name, op, value),), note=note)


def _set(note: str = "", **settings: Any) -> Build:
    return lambda hit: Meaning(settings=tuple(settings.items()), note=note)


def _types(hit: Hit) -> Meaning | None:
    found: list[str] = []
    for word in re.findall(rf"(?<![\w]){ANY_TYPE}(?![\w])", hit.lower(hit.first("types", "types2", "types3"))):
        kind = TYPE_OF.get(word) or TYPE_OF.get(word.rstrip("s")) or TYPE_OF.get(word[:-2])
        if kind is not None and kind not in found:
            found.append(kind)
    return one_or_list("message.type", found)


def _count(field_name: str) -> Build:
    def build(hit: Hit) -> Meaning | None:
        return Meaning(conditions=(leaf(field_name, OP_OF[hit.lower("cmp")], int(hit.match.group("n"))),))

    return build


def _utm(hit: Hit) -> Meaning:
    part = hit.lower("part")
    return Meaning(conditions=(leaf(f"lead.utm_{part}", "equal", hit.typed("value")),))


def _platform(hit: Hit) -> Meaning:
    values = PLATFORMS[hit.lower(hit.first("platform", "platform2", "platform3"))]
    return Meaning(conditions=(leaf("lead.utm_source", "contains", ", ".join(values)),),
                  note=N_("ad platform read from UTM Source"))


def _score(sign: int) -> Build:
    return lambda hit: act("adjust_score", by=int(hit.match.group("n")) * sign)


def _status_change(hit: Hit) -> Meaning:
    changed = [leaf("status.from", "equal", hit.status("frm"))] if hit.match.groupdict().get("frm") else []
    changed.append(leaf("status.to", "equal", hit.status("to")))
    return Meaning(conditions=tuple(changed), settings=(("trigger", "lead.status_changed"),))


def _value(hit: Hit) -> Meaning:
    target = "lead.value_potential" if re.search(r"potensi|potential", hit.lower()) else "lead.value_actual"
    return act("update_value", target=target, preset="rupiah_flexible")


def _conversion(hit: Hit) -> Meaning:
    named = hit.match.group("event") or hit.match.group("event2")
    event = CONVERSIONS[" ".join(named.split())] if named else "Purchase"
    return Meaning(actions=({"type": "conversion_event", "event_name": event},),
                   note="" if named else N_("event Purchase assumed"))


# ------------------------------------------------------------------ rule settings (trigger, sender)

_phrase(r"(?:the\s+)?(?:lead(?:'s|nya)?\s+)?status(?:nya)?\s+(?:changes?|changed|berubah|diubah|berganti|diganti|"
        r"moves?|moved|pindah|dipindah(?:kan)?|becomes?|naik|turun)\s+(?:(?:from|dari)\s+(?P<frm>%STATUS%)\s+)?"
        r"(?:to|into|ke|jadi|menjadi)\s+(?P<to>%STATUS%)", _status_change)
_phrase(r"(?:the\s+|a\s+)?lead\s+(?:becomes|menjadi|berubah\s+(?:jadi|menjadi|ke)|is\s+(?:moved|changed)\s+to|"
        r"dipindah(?:kan)?\s+ke)\s+(?P<to>%STATUS%)", _status_change)
_phrase(r"(?:a\s+)?new\s+leads?(?:\s+(?:is\s+created|comes?\s+in|arrives?|masuk))?|(?:ada\s+)?lead\s+baru"
        r"(?:\s+(?:masuk|dibuat|datang))?|lead\s+(?:is\s+)?created|lead\s+dibuat",
        _set(trigger="lead.created"))
_phrase(r"(?:customers?|pelanggan|konsumen)\s+(?:or|atau|maupun|and|dan)\s+%TEAM%|%TEAM%\s+(?:or|atau|maupun|and|dan)"
        r"\s+(?:customers?|pelanggan|konsumen)|siapa\s*(?:pun|saja)|anyone|anybody|either\s+side|both\s+sides|"
        r"semua\s+pengirim|all\s+senders|dua\s+arah", _set(sender="all"))
_phrase(r"%TEAM%(?:\s*/\s*%TEAM%)*(?=\s+(?:%SAY%|%SEND%|confirms?|konfirmasi|mengonfirmasi|balas|membalas|replies|"
        r"sudah|udah|udh|sdh))|(?:pesan|message)s?\s+(?:dari|from)\s+(?:the\s+)?%TEAM%|"
        r"(?:sender|pengirim(?:nya)?)\s+(?:is\s+|adalah\s+)?(?:the\s+)?%TEAM%|(?:outgoing|keluar)\s+messages?|"
        r"pesan\s+keluar|(?:dikirim|sent)\s+(?:oleh|by)\s+(?:the\s+)?%TEAM%", _set(sender="team"))
_phrase(r"stop\s+processing(?:\s+other\s+rules)?|stop\s+other\s+rules|(?:jangan|stop)\s+(?:jalankan|proses)\s+"
        r"(?:rule|aturan)\s+lain|hentikan\s+(?:rule|aturan)\s+lain|stop\s+(?:rule|aturan)\s+lain",
        _set(stop_processing=True))

# ------------------------------------------------------------------ actions

_phrase(r"(?:(?:kirim(?:kan)?|send|post|fire|trigger|call|panggil|tembak)\s+(?:a\s+|the\s+)?)?webhook\s+"
        r"(?:(?:ke|to|at|:)\s+)?(?:url\s+)?(?P<url>%URL%)",
        lambda hit: act("send_webhook", url=hit.typed("url")))
_phrase(r"(?:kirim(?:kan)?|send|post)\s+(?:(?:data|datanya|lead|the\s+lead|it)\s+)?(?:ke|to)\s+(?P<url>%URL%)",
        lambda hit: act("send_webhook", url=hit.typed("url")))
_phrase(r"(?:(?:kirim(?:kan)?|send|post|fire|trigger|call|panggil)\s+(?:a\s+|the\s+)?)?webhook\s+(?:(?:ke|to)\s+)?"
        r"(?:the\s+)?endpoint\s+(?P<name>[\w-]+)",
        lambda hit: act("send_webhook", endpoint=hit.typed("name")))
_phrase(r"(?:reply|answer|respond|balas(?:kan)?|bales|jawab|auto[\s-]?reply|kirim(?:kan)?\s+balasan|"
        r"send\s+(?:a\s+|the\s+)?reply|reply\s+back)(?:\s+(?:with|dengan|pakai|back|balik))?\s*:?\s*(?P<text>%QUOTED%)",
        lambda hit: act("send_reply", text=hit.typed("text")))
_phrase(r"(?:change|set|move|mark|update|make|turn|ubah|ubh|rubah|ganti|pindah(?:kan|in)?|jadikan|jadiin|tandai|"
        r"tandain|naikkan|naikin|upgrade|promote|geser)(?:\s+(?:it|the\s+lead|lead(?:nya)?|the\s+status|"
        r"status(?:\s+lead)?(?:nya)?))?\s+(?:(?:to|as|into|ke|jadi|menjadi|sebagai|=)\s+)?(?P<status>%STATUS%)"
        r"|(?:->|→|=>)\s*(?:status\s+)?(?P<arrow>%STATUS%)",
        lambda hit: act("set_status", status=hit.status("status" if hit.match.group("status") else "arrow")))
_phrase(r"(?:set|ubah|ganti|jadikan|make|naikkan|naikin)\s+(?:the\s+)?(?:lead\s+)?(?:priority|prioritas)(?:nya)?\s+"
        r"(?:(?:to|ke|jadi|menjadi|as)\s+)?(?P<p>%PRIORITY%)",
        lambda hit: act("set_field", field="lead.priority", value=PRIORITIES[hit.lower("p")]))
_phrase(r"(?:capture|take|grab|extract|get|save|record|store|update|ambil|catat|simpan|tangkap|isi)\s+(?:the\s+)?"
        r"(?:lead\s+)?(?:(?:payment|transfer|pembayaran|order|deal)\s+)?(?:amount|value|nominal|total|price|jumlah|"
        r"nilai|harga|angka)(?:\s+(?:pembayaran|transfer|bayar|payment|order|uang))?(?:\s+(?:rp|rupiah|idr))?"
        r"(?:\s+(?:as|into|to|ke|sebagai|jadi|ke\s+dalam)\s+(?:the\s+)?(?:potential\s+value|nilai\s+potensi(?:al)?|"
        r"potensi(?:al)?|potential|actual\s+value|nilai\s+aktual|aktual|actual|deal\s+value))?", _value)
_phrase(r"(?:remove|delete|drop|clear|hapus|buang|cabut|lepas|copot|hilangkan|hapuskan)\s+(?:the\s+)?"
        r"(?:tag|label)\s+(?P<tag>%TAG%)|untag\s+(?P<tag2>%TAG%)",
        lambda hit: act("remove_tag", tag=hit.typed("tag" if hit.match.group("tag") else "tag2")))
_phrase(r"(?:add|put|give|apply|attach|tambah(?:kan|in)?|kasih|beri(?:kan)?|pasang(?:kan)?|set)\s+(?:a\s+|the\s+)?"
        r"(?:tag|label)\s+(?:(?:to\s+it|ke\s+lead)\s+)?(?P<tag>%TAG%)|"
        r"(?:tag|label)\s+(?:it|the\s+lead|lead(?:nya)?|dia)\s+(?:(?:as|with|sebagai|dengan)\s+)?(?P<tag2>%TAG%)|"
        r"(?:tandai|tandain)\s+(?:dengan\s+)?(?:tag|label)\s+(?P<tag3>%TAG%)",
        lambda hit: act("add_tag", tag=hit.typed(hit.first("tag", "tag2", "tag3"))))
_phrase(r"(?:add|give|plus|tambah(?:kan|in)?|naik(?:kan|in)?|kasih|beri(?:kan)?|increase|raise)\s+(?:the\s+)?"
        r"(?:lead\s+)?(?:score|skor|poin|points?)(?:nya)?\s+(?:(?:by|sebanyak|sebesar|dengan)\s+)?\+?(?P<n>\d+)"
        r"(?:\s*(?:points?|poin|pts?))?", _score(1))
_phrase(r"(?:add|give|plus|tambah(?:kan|in)?|kasih|beri(?:kan)?)\s+\+?(?P<n>\d+)\s*(?:points?|poin|pts?)"
        r"(?:\s+(?:to|ke)\s+(?:the\s+)?(?:lead(?:'s)?\s+)?(?:score|skor))?", _score(1))
_phrase(r"(?:subtract|deduct|remove|minus|reduce|lower|decrease|kurangi|kurang(?:in)?|turun(?:kan|in)?|potong)\s+"
        r"(?:the\s+)?(?:lead\s+)?(?:score|skor|poin|points?)(?:nya)?\s+(?:(?:by|sebanyak|sebesar|dengan)\s+)?"
        r"(?P<n>\d+)(?:\s*(?:points?|poin|pts?))?", _score(-1))
_phrase(r"(?:subtract|deduct|remove|minus|take\s+away|kurangi|kurang(?:in)?|potong)\s+(?P<n>\d+)\s*"
        r"(?:points?|poin|pts?)(?:\s+(?:from|dari)\s+(?:the\s+)?(?:lead(?:'s)?\s+)?(?:score|skor))?", _score(-1))
_phrase(r"(?:score|skor)(?:nya)?\s*(?P<sign>[+-])\s*(?P<n>\d+)|(?P<sign2>[+-])(?P<n2>\d+)\s*(?:points?|poin|pts?)",
        lambda hit: act("adjust_score", 
            by=int(hit.match.group("n") or hit.match.group("n2"))
            * (-1 if (hit.match.group("sign") or hit.match.group("sign2")) == "-" else 1)))
_phrase(r"(?:sync|send|kirim(?:kan)?|catat|report|lapor(?:kan)?)\s+(?:a\s+|an\s+|the\s+)?(?:ctwa\s+)?"
        r"(?:(?P<event>purchase|pembelian|lead\s*submitted|lead)\s+)?(?:conversion|konversi)(?:\s+event)?"
        r"(?:\s+(?P<event2>purchase|pembelian|lead\s*submitted|lead))?(?:\s+(?:to|ke)\s+(?:meta|facebook|fb))?",
        _conversion)

# ------------------------------------------------------------------ conditions: lead

_phrase(r"(?:the\s+)?(?:lead\s+)?status(?:nya)?\s+(?:is\s+|adalah\s+|masih\s+|sudah\s+)?%NOT%\s+"
        r"(?P<list>%STATUS%(?:%LISTSEP%%STATUS%)*)",
        lambda hit: one_or_list("lead.status", hit.status_list("list"), "not_equal", "not_in_list"))
_phrase(r"(?:(?:the\s+)?(?:lead(?:'s)?\s+)?status(?:nya)?|(?:the\s+)?lead(?:nya)?)\s+(?:is\s+|adalah\s+|masih\s+|"
        r"sudah\s+|udah\s+|udh\s+|sdh\s+|still\s+|lagi\s+|currently\s+|==?\s*|:\s*)?"
        r"(?P<list>%STATUS%(?:%LISTSEP%%STATUS%)*)|(?P<list2>%STATUS%)\s+leads?",
        lambda hit: one_or_list("lead.status", hit.status_list("list" if hit.match.group("list") else "list2")),
        negatable=True)
_phrase(r"(?:the\s+)?(?:lead\s+)?(?:score|skor)(?:nya)?\s*(?:is\s+|sudah\s+|udah\s+)?(?P<cmp>%CMP%)\s*(?P<n>\d+)"
        r"(?:\s*(?:points?|poin))?", _count("lead.score"), negatable=True)
_phrase(r"(?:has|have|with|punya|memiliki|ada|dengan|sudah\s+ada)\s+(?:the\s+|a\s+)?(?:tag|label)\s+(?P<tag>%TAG%)|"
        r"(?:tagged|labeled|labelled)(?:\s+(?:as|with))?\s+(?P<tag2>%TAG%)|ber-?tag\s+(?P<tag3>%TAG%)|"
        r"(?:tag|label)(?:nya)?\s+(?:is|adalah|sudah|=)\s+(?P<tag4>%TAG%)|"
        r"(?:if|when|kalau|kalo|jika|bila)\s+(?:the\s+)?(?:lead\s+)?(?:tag|label)(?:nya)?\s+(?P<tag5>%TAG%)",
        lambda hit: Meaning(conditions=(leaf("lead.tags", "equal", hit.typed(
            hit.first("tag", "tag2", "tag3", "tag4", "tag5"))),)), negatable=True)
_phrase(r"(?:without|tanpa)\s+(?:the\s+|a\s+)?(?:tag|label)\s+(?P<tag>%TAG%)",
        lambda hit: Meaning(conditions=(leaf("lead.tags", "not_equal", hit.typed("tag")),)))
_phrase(r"(?:qontak\s+)?room\s+tags?\s+(?:is\s+|contains?\s+)?(?P<tag>%TAG%)|tag\s+room\s+(?P<tag2>%TAG%)",
        lambda hit: Meaning(conditions=(leaf("message.room_tags", "equal",
                                             hit.typed("tag" if hit.match.group("tag") else "tag2")),)),
        negatable=True)
_phrase(r"(?:the\s+)?(?:lead\s+)?(?:priority|prioritas)(?:nya)?\s+(?:is\s+|adalah\s+|=\s*)?(?P<p>%PRIORITY%)",
        lambda hit: Meaning(conditions=(leaf("lead.priority", "equal", PRIORITIES[hit.lower("p")]),)),
        negatable=True)
_phrase(r"utm[\s_-]?(?P<part>source|medium|campaign|term|content)(?:nya)?\s*(?:is\s+|=+\s*|:\s*|adalah\s+|equals?\s+)?"
        r"(?P<value>%QUOTED%|[\w.-]*\w)", _utm, negatable=True)
_phrase(r"(?:(?:from|dari|via|lewat|in)\s+(?:an?\s+|the\s+)?)?(?:iklan|ads?|advert(?:isement)?s?)\s+"
        r"(?:(?:di|dari|on)\s+)?(?P<platform>%PLATFORM%)|(?:(?:from|dari|via|lewat)\s+(?:the\s+)?)?"
        r"(?P<platform2>%PLATFORM%)\s+(?:ads?|iklan|advertising|campaign)|(?:from|dari|via|lewat)\s+(?P<platform3>"
        r"%PLATFORM%)",
        _platform, negatable=True)
_phrase(r"(?:campaign|kampanye)(?:nya)?\s+(?:is\s+|=\s*|:\s*|adalah\s+)?(?P<value>%QUOTED%|[\w.-]*\w)|"
        r"(?:from|dari|via|of)\s+(?:the\s+)?(?P<value2>[\w-]+)\s+campaign",
        lambda hit: Meaning(conditions=(leaf("lead.utm_campaign", "contains",
                                             hit.typed("value" if hit.match.group("value") else "value2")),)),
        negatable=True)
_phrase(r"(?:the\s+)?(?:lead\s+)?(?:source|sumber)(?:nya)?\s+(?:is\s+|adalah\s+|=\s*|dari\s+)?(?P<value>%QUOTED%|"
        r"[\w-]+)",
        lambda hit: Meaning(conditions=(leaf("lead.source", "equal",
                                             SOURCES.get(hit.lower("value"), hit.typed("value"))),)),
        negatable=True)
_phrase(r"(?:from|dari|via|lewat)\s+(?:an?\s+|the\s+)?(?:iklan|ads?|advert(?:isement)?s?)|(?:ad|ads|iklan)\s+leads?|"
        r"leads?\s+(?:dari\s+)?iklan", _is("lead.source", "equal", "ads"), negatable=True)
_phrase(r"(?:from|dari|via|lewat)\s+(?:the\s+|our\s+)?(?:website|web|situs|landing\s+page)",
        _is("lead.source", "equal", "website"), negatable=True)
_phrase(r"(?:from|dari|via|lewat)\s+(?P<partner>qontak|wa[\s_-]?api|whatsapp\s+api|pancake|qiscus|whatsapp\s+web)",
        lambda hit: Meaning(conditions=(leaf("message.partner_source", "equal",
                                             PARTNERS[re.sub(r"[\s_-]+", " ", hit.lower("partner"))]),)),
        negatable=True)
_phrase(r"(?:kota|city)(?:nya)?\s+(?:is\s+|adalah\s+|=\s*)?(?P<value>[\w-]+)|(?:tinggal|domisili|berdomisili|lives|"
        r"based)\s+(?:di|in)\s+(?P<value2>[\w-]+)",
        lambda hit: Meaning(conditions=(leaf("lead.city", "equal",
                                             hit.typed("value" if hit.match.group("value") else "value2")),)),
        negatable=True)
_phrase(r"(?:from|dari)\s+(?:nomor|no\.?|number|hp|wa)\s*(?P<phone>\+?\d[\d\s-]{6,}\d)",
        lambda hit: Meaning(conditions=(leaf("message.sender", "equal", hit.typed("phone")),)), negatable=True)
_phrase(r"(?:named|called|bernama|namanya|nama(?:nya)?\s+(?:customer|pelanggan))\s+(?P<value>%QUOTED%|[\w-]+)",
        lambda hit: Meaning(conditions=(leaf("message.sender_name", "contains", hit.typed("value")),)),
        negatable=True)

# ------------------------------------------------------------------ conditions: the message

_phrase(r"(?:(?:sends?|sent|has\s+sent|kirim|mengirim|ngirim|chat|chatted|sudah\s+chat|udah\s+chat|udh\s+chat)\s+)?"
        r"(?P<cmp>%CMP%)\s*(?P<n>\d+)\s*%UNIT%|(?:chat\s+count|jumlah\s+(?:chat|pesan)|number\s+of\s+(?:messages|chats)"
        r"|message\s+count|total\s+(?:chat|pesan))(?:nya)?\s*(?:is\s+|sudah\s+)?(?P<cmp2>%CMP%)\s*(?P<n2>\d+)",
        lambda hit: Meaning(conditions=(leaf("chat.count", OP_OF[hit.lower("cmp" if hit.match.group("cmp")
                                                                           else "cmp2")],
                                             int(hit.match.group("n") or hit.match.group("n2"))),)),
        negatable=True)
_phrase(r"(?P<n>\d+)\s*(?:\+\s*%UNIT%|%UNIT%\s*(?:or\s+more|atau\s+lebih|ke\s+atas|keatas))",
        lambda hit: Meaning(conditions=(leaf("chat.count", "gte", int(hit.match.group("n"))),)), negatable=True)
_phrase(r"(?P<n>\d+)\s*%UNIT%\s*(?:or\s+less|or\s+fewer|atau\s+kurang|ke\s+bawah)",
        lambda hit: Meaning(conditions=(leaf("chat.count", "lte", int(hit.match.group("n"))),)), negatable=True)
_phrase(r"(?:outside(?:\s+of)?|di\s*luar|luar|selain|after|setelah|sesudah|lewat)\s+(?:%OFFICE%)|after[\s-]hours",
        _is("time.local", "between", "17:00-09:00", N_("office hours read as 09:00-17:00")))
_phrase(r"(?:(?:during|in|within|selama|pada|saat|di|dalam)\s+)?(?:%OFFICE%)",
        _is("time.local", "between", "09:00-17:00", N_("office hours read as 09:00-17:00")), negatable=True)
_phrase(r"(?:outside(?:\s+of)?|di\s*luar|luar|selain)\s+(?:the\s+)?(?:hours\s+(?:of\s+)?)?%RANGE%",
        lambda hit: window(hit, outside=True))
_phrase(r"(?:between|antara|from|dari|jam|pukul|pkl\.?|at)\s+%RANGE%", window, negatable=True)
_phrase(r"\d{1,2}[:.]\d{2}\s*(?:-|–|to|sampai|s/d|until)\s*\d{1,2}[:.]\d{2}", window, negatable=True)
_phrase(rf"(?:after|setelah|sesudah|lewat|past)\s+{CLOCK_WORD}{TIME}",
        lambda hit: open_window(hit, after=True), negatable=True)
_phrase(rf"(?:before|sebelum)\s+{CLOCK_WORD}{TIME}", lambda hit: open_window(hit, after=False), negatable=True)
_phrase(r"(?:without|tanpa|no|tidak\s+ada|gak\s+ada|ga\s+ada|nggak\s+ada)\s+(?:media|attachments?|lampiran)",
        _is("message.has_media", "equal", False))
_phrase(r"(?:has|have|with|ada|dengan|pakai|pake|berisi|includes?|including|%SEND%)\s+%A%(?:media|attachments?|"
        r"lampiran)", _is("message.has_media", "equal", True), negatable=True)
_phrase(r"%SEND%\s+%A%(?P<types>%MEDIA%)", _types, negatable=True)
_phrase(r"(?:%SEND%\s+(?:us\s+|kami\s+)?%A%(?:messages?|pesan|chat|wa)|messages\s+us|chats?\s+us|(?:pesan|chat)\s+masuk|"
        r"(?:ada\s+)?(?:pesan|chat)\s+(?:baru|apa\s*(?:pun|saja))|any\s+message|every\s+message|setiap\s+(?:pesan|chat))"
        r"(?!\s*(?:%QUOTED%|berisi|contains?|containing|mengandung|yang|with|that|dengan|ada\s+kata))",
        lambda hit: Meaning(note=N_("any message: no condition")))
_phrase(r"(?:(?:the\s+)?message\s+type|tipe\s+pesan|jenis\s+pesan|type|tipe|jenis|(?:pesan|chat)(?:nya)?\s+"
        r"(?:berupa|adalah)|(?:the\s+)?message\s+is|berupa|is)\s+(?:is\s+|=\s*|adalah\s+)?%A%(?P<types>%ANYTYPE%)"
        r"(?!\s+(?:messages?|pesan))|(?:pesan|message)\s+(?P<types2>%MEDIA%)|(?P<types3>%ANYTYPE%)\s+messages?",
        _types, negatable=True)
_phrase(r"(?:bukan|non|not\s+a|not\s+in\s+a|tidak\s+di|tdk\s+di|gak\s+di|ga\s+di)\s*-?\s*(?:grup|group|grp|gc)"
        r"(?:\s+chats?)?|private\s+(?:chats?|messages?)|chat\s+pribadi|pesan\s+pribadi|japri|personal\s+chats?|"
        r"chat\s+personal|direct\s+(?:chats?|messages?)|\bdm\b|one[\s-]on[\s-]one|1\s*:\s*1",
        _is("message.is_group", "equal", False))
_phrase(r"(?:(?:di\s+dalam|dalam|di|in|inside|from|dari|on)\s+%A%)(?:grup|group|grp|gc)(?:\s+chats?)?|"
        r"(?:group|grup)\s+(?:chats?|messages?)|(?:chat|pesan|obrolan)\s+(?:grup|group)",
        _is("message.is_group", "equal", True), negatable=True)
_phrase(r"returning\s+customers?|existing\s+customers?|repeat\s+customers?|(?:pelanggan|customer|konsumen)\s+lama",
        _is("message.first_contact", "equal", False))
_phrase(r"(?:the\s+|their\s+)?(?:first|pertama)\s+(?:message|chat|contact|time)|(?:chat|pesan|kontak)\s+pertama"
        r"(?:\s+kali)?|(?:baru\s+)?pertama\s+kali(?:\s+(?:chat|kirim\s+pesan|menghubungi|hubungi))?|"
        r"(?:customers?|pelanggan|konsumen|kontak|contact)\s+baru|new\s+(?:customers?|contacts?|buyers?)|"
        r"for\s+the\s+first\s+time|first[\s-]time\s+(?:customers?|buyers?)",
        _is("message.first_contact", "equal", True), negatable=True)
_phrase(r"is\s+a\s+reply|replies\s+to\s+(?:a|an|our|the)\s+(?:message|chat)|replying\s+to\s+(?:a|an|our|the)\s+"
        r"message|membalas\s+pesan(?:\s+kami)?|reply\s+ke\s+pesan|(?:nge)?quote\s+pesan",
        _is("message.is_reply", "equal", True), negatable=True)
_phrase(r"(?:sudah|udah|udh|sdh|dah|telah|already|has|have)\s+(?P<word>transfer|trf|tf|bayar|byr|membayar|paid|"
        r"lunas)", lambda hit: Meaning(conditions=(leaf("message.text", "contains", hit.typed("word")),),
                                       note=N_("the message says it")), late=True)

# Last: a bare "tag vip" is the imperative (add it); "has tag vip" was read above.
_phrase(r"(?:tag|label)\s+(?P<tag>%TAG%)", lambda hit: act("add_tag", tag=hit.typed("tag")))


# ------------------------------------------------------------------ message keywords (free text)

_head(r"(?:(?:the\s+)?message|pesan(?:nya)?|chat(?:nya)?)\s+(?:starts?\s+with|begins?\s+with|diawali(?:\s+dengan)?|"
      r"dimulai(?:\s+dengan)?|berawalan)", "message.text", "starts_with")
_head(r"(?:(?:the\s+)?message|pesan(?:nya)?|chat(?:nya)?)\s+(?:ends?\s+with|diakhiri(?:\s+dengan)?|berakhiran)",
      "message.text", "ends_with")
_head(r"(?:(?:the\s+)?message|pesan(?:nya)?|chat(?:nya)?|isi\s+pesan(?:nya)?)\s+%NOT%\s+(?:contains?|containing|"
      r"berisi|mengandung|ada\s+kata)", "message.text", "not_contains")
_head(r"(?:%SEND%\s+(?:us\s+|kami\s+)?%A%)?(?:messages?|pesan|chat)(?:nya)?\s+(?:with|containing|that\s+(?:says|contains)|"
      r"berisi|yang\s+berisi|dengan|mengandung|ada\s+kata)", "message.text", "contains")
_head(r"%NOT%\s+(?:pernah\s+|ever\s+|ada\s+)?%SAY%", "message.text", "not_contains")
_head(r"%SAY%", "message.text", "contains")
