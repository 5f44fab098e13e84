"""Deterministic benchmark workload: 100 rules of the seed's kinds and N messages.

Seeded, so two runs (or two machines) replay exactly the same thing.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ["new", "responded", "hot", "purchase", "won", "lost"]
KEYWORDS_ID = ["pesan", "beli", "order", "booking", "harga", "ongkir", "transfer", "bayar", "cod",
               "promo", "diskon", "stok", "ready", "ukuran", "warna", "kirim", "resi", "alamat"]
KEYWORDS_EN = ["buy", "price", "shipping", "available", "discount", "size", "color", "deliver",
               "refund", "invoice", "payment", "receipt", "track", "address", "cancel"]
REGEXES = [
    r"sudah\s+(transfer|bayar)",
    r"(?:Rp\s*)?([0-9]{1,3}(?:\.[0-9]{3})+)",
    r"total\s*:?\s*([0-9.]+)",
    r"order\s*#?\s*[0-9]{3,}",
    r"\b(cod|bayar di tempat)\b",
    r"(resi|tracking)\s*:?\s*[a-z0-9]{8,}",
    r"^(halo|hai|hi|hello)\b",
    r"(mau|ingin|want to)\s+(beli|buy|order)",
    r"payment\s+(received|confirmed)",
    r"(jam|hours?)\s+(buka|open)",
]
# Most chat is small talk that no rule cares about; these carry none of the rules' keywords.
SMALL_TALK = [
    "Halo kak, selamat pagi",
    "ok kak makasih ya",
    "siap, ditunggu kabarnya",
    "hi there, good morning!",
    "thank you so much",
    "baik kak, nanti saya kabari lagi",
    "wah bagus banget kak",
    "noted, see you",
    "iya kak betul",
    "hehe iya kak",
    "apakah bisa dikirim sore ini?",
    "sounds good to me",
]
TEXTS = [
    "Halo kak, {kw} {kw2} masih ada?",
    "hi, is the {kw} still {kw2}? thanks",
    "Kak saya mau {kw} yang warna hitam ukuran 39",
    "I want to buy 2 pcs, what is the {kw}?",
    "Sudah transfer ya kak, total Rp {amount}",
    "Payment received Rp {amount}, thank you!",
    "Berapa {kw} ke Bandung? pakai {kw2} bisa?",
    "ok kak ditunggu {kw} nya",
    "Total: {amount_plain} sudah termasuk {kw}",
    "order #{num} mohon dicek {kw2}",
    "Resi: JNE{num}ABCD tolong di {kw}",
    "thanks, will {kw} tomorrow",
    "Kak {kw} {kw2} {kw} kapan sampai?",
    "hello, jam buka toko kapan?",
]


def make_rules(rng: random.Random, count: int = 100) -> list[dict[str, Any]]:
    """Rules like the seed's recipes: keyword lists, status and chat-count gates, ~10% regex."""
    rules: list[dict[str, Any]] = []
    for index in range(count):
        kind = index % 10
        status = rng.choice(STATUSES[:4])
        nxt = STATUSES[min(STATUSES.index(status) + 1, len(STATUSES) - 1)]
        name = f"bench rule {index:03d}"
        conditions: list[dict[str, Any]]
        actions: list[dict[str, Any]]
        sender = "customer"
        if kind == 0:  # regex (10%)
            pattern = REGEXES[index // 10 % len(REGEXES)]
            conditions = [{"field": "message.text", "op": "matches", "value": pattern},
                          {"field": "lead.status", "op": "equal", "value": status}]
            actions = [{"type": "add_tag", "tag": f"re{index}"}]
        elif kind in (1, 2):  # keyword lists + status (Identify Hot Lead)
            words = rng.sample(KEYWORDS_ID + KEYWORDS_EN, 4)
            conditions = [{"field": "message.text", "op": "contains", "value": ", ".join(words)},
                          {"field": "lead.status", "op": "equal", "value": status}]
            actions = [{"type": "set_status", "status": nxt}]
        elif kind == 3:  # chat count + status (Mark Active Lead)
            conditions = [{"field": "chat.count", "op": "gt", "value": rng.randint(2, 6)},
                          {"field": "lead.status", "op": "equal", "value": status}]
            actions = [{"type": "set_status", "status": nxt}]
        elif kind == 4:  # time window + keywords
            start = rng.randint(0, 23)
            window = f"{start:02d}:00-{(start + 8) % 24:02d}:00"
            conditions = [{"field": "time.local", "op": "between", "value": window},
                          {"field": "message.text", "op": "contains", "value": ", ".join(rng.sample(KEYWORDS_ID, 3))}]
            actions = [{"type": "adjust_score", "by": rng.randint(1, 10)}]
        elif kind == 5:  # team confirms payment: capture value (Auto-Closing)
            sender = "team" if index % 20 else "all"
            paid = "payment received, sudah transfer"
            conditions = [{"any": [{"field": "message.text", "op": "contains", "value": paid},
                                   {"field": "message.text", "op": "starts_with", "value": "lunas"}]}]
            actions = [{"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"},
                       {"type": "set_status", "status": "purchase"}]
        elif kind == 6:  # in_list on status + score: escalate once
            level = rng.choice(["medium", "high", "urgent"])
            conditions = [{"field": "lead.status", "op": "in_list", "value": rng.sample(STATUSES, 2)},
                          {"field": "lead.score", "op": "gte", "value": rng.randint(5, 50)},
                          {"field": "lead.priority", "op": "not_equal", "value": level}]
            actions = [{"type": "set_field", "field": "priority", "value": level}]
        elif kind == 7:  # media / type conditions
            conditions = [{"field": "message.has_media", "op": "equal", "value": True},
                          {"field": "message.text", "op": "contains", "value": ", ".join(rng.sample(KEYWORDS_EN, 3))}]
            actions = [{"type": "add_tag", "tag": "media"}]
        elif kind == 8:  # first contact with a topic, not spam
            conditions = [{"field": "message.first_contact", "op": "equal", "value": True},
                          {"field": "message.text", "op": "contains",
                           "value": ", ".join(rng.sample(KEYWORDS_ID + KEYWORDS_EN, 2))},
                          {"not": {"field": "message.text", "op": "contains", "value": "spam, promo"}}]
            actions = [{"type": "adjust_score", "by": 5}, {"type": "add_tag", "tag": "inbound"}]
        else:  # lead status changed → tag
            rules.append({"name": name, "trigger": "lead.status_changed", "priority": 100 + index,
                          "conditions": [{"field": "status.to", "op": "equal", "value": nxt}],
                          "actions": [{"type": "add_tag", "tag": f"reached-{nxt}"}]})
            continue
        rules.append({"name": name, "trigger": "message.received", "sender": sender,
                      "priority": 10 + index, "conditions": conditions, "actions": actions,
                      "stop_processing": index % 25 == 5})
    return rules


def make_messages(rng: random.Random, count: int = 100_000, senders: int = 10_000,
                  session: str = "6281100000001") -> list[dict[str, Any]]:
    """Messages from `senders` customers (and CS replies), Indonesian/English, some amounts."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    phones = [f"628{rng.randint(10**9, 10**10 - 1)}" for _ in range(senders)]
    out: list[dict[str, Any]] = []
    for index in range(count):
        phone = phones[rng.randrange(senders)]
        jid = f"{phone}@s.whatsapp.net"
        from_me = rng.random() < 0.25
        template = rng.choice(TEXTS) if rng.random() < 0.5 else rng.choice(SMALL_TALK)
        amount = rng.choice(["1.500.000", "250.000", "2.000.000,00", "85.000", "12.750.000"])
        text = template.format(kw=rng.choice(KEYWORDS_ID + KEYWORDS_EN), kw2=rng.choice(KEYWORDS_ID),
                               amount=amount, amount_plain=amount.replace(".", "").split(",")[0],
                               num=rng.randint(1000, 99999))
        media = rng.random() < 0.1
        out.append({
            "id": f"BENCH{index:08d}",
            "session": session,
            "chat": jid,
            "sender": f"{session}@s.whatsapp.net" if from_me else jid,
            "from_me": from_me,
            "sender_name": None if from_me else f"Customer {phone[-4:]}",
            "timestamp": (start + timedelta(seconds=index * 7)).isoformat(),
            "type": "image" if media else "text",
            "has_media": media,
            "text": text,
        })
    return out


def write_jsonl(path: str, messages: list[dict[str, Any]]) -> None:
    """Write messages one JSON object per line."""
    with open(path, "w", encoding="utf-8") as handle:
        for message in messages:
            handle.write(json.dumps(message, ensure_ascii=False) + "\n")


# Words most chat carries (small talk included): heavy rules tag and score on them.
COMMON_WORDS = ["kak", "ok", "iya", "halo", "hi", "thanks", "thank", "baik", "siap", "ya", "sounds", "noted",
                "wah", "hehe", "apakah", "good"]


def make_heavy_rules(rng: random.Random, count: int = 100) -> list[dict[str, Any]]:
    """A heavy shop's rules: the seed's kinds, but most fire. Every message scores and tags,
    every message is pushed to a CRM by webhook, status changes are pushed too."""
    rules: list[dict[str, Any]] = []
    hook = "http://127.0.0.1:9/crm"
    for index, light in enumerate(make_rules(rng, count)):
        kind = index % 10
        name = light["name"]
        if kind == 0:  # regex → tag, on any status
            light["conditions"] = light["conditions"][:1]
        elif kind == 2 or (kind == 3 and index % 20 == 13):  # → tag (the other kinds 1 and 3 change the status)
            light["actions"] = [{"type": "add_tag", "tag": f"interest{index}"}]
        elif kind == 4:  # a 3-hour shift window → score and tag
            start = (index // 10) * 5 % 24
            window = f"{start:02d}:00-{(start + 3) % 24:02d}:00"
            light["conditions"] = [{"field": "time.local", "op": "between", "value": window}]
            light["actions"] = [{"type": "adjust_score", "by": 1 + index % 3},
                                {"type": "add_tag", "tag": f"shift{start}"}]
        elif kind == 7:  # common words → tag: half of them on three words (most chat), half on one
            words = rng.sample(COMMON_WORDS, 3 if index % 20 == 7 else 1)
            light["conditions"] = [{"field": "message.text", "op": "contains", "value": ", ".join(words)}]
            light["actions"] = [{"type": "add_tag", "tag": f"talk{index}"}, {"type": "adjust_score", "by": 1}]
        elif kind == 8:
            if index == 8:  # every message goes to the CRM
                light = {"name": name, "trigger": "message.received", "sender": "all", "priority": 1,
                         "conditions": [{"field": "chat.count", "op": "gte", "value": 1}],
                         "actions": [{"type": "send_webhook", "url": hook, "event": "rule.fired"}]}
            else:  # first contact with a topic: score, tag
                light["conditions"] = light["conditions"][1:2]
        elif kind == 9 and index % 50 == 9:  # status changes to the CRM as well
            light["actions"].append({"type": "send_webhook", "url": hook, "event": "lead.status_changed"})
        rules.append(light)
    return rules


def profile_workload(profile: str, count: int, *, seed: int, rules: int,
                     senders: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A bench profile's rules (light: make_rules, heavy: make_heavy_rules) and `count`
    messages from `senders` customers, all drawn from one seeded generator."""
    rng = random.Random(seed)
    made = (make_heavy_rules if profile == "heavy" else make_rules)(rng, rules)
    return made, make_messages(rng, count, senders)
