"""AI Suggest's lexicon: the words the sentence grammar knows, in English and Bahasa Indonesia.

Plain tables (negations, verbs, message types, comparators, ad platforms, ...) and the %WORD%
macros the phrase patterns of engine.suggest.phrases are written with; casual spellings
("kalo", "gk", "udh", "trf") sit next to the formal ones. Adding a word is adding it to a table.
"""

from __future__ import annotations

import re

MASK = "\ue000"  # stands for every character inside quotes


def _words(*items: str) -> str:
    """An alternation of plain words/phrases, longest first; a space matches any whitespace."""
    ordered = sorted(set(items), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered) + ")"


NEGATION = _words(
    "tidak", "tdk", "tak", "gak", "ga", "gk", "nggak", "ngga", "nggk", "enggak", "engga", "ndak", "bukan", "bkn",
    "belum", "blm", "blum", "jangan", "not", "never", "doesn't", "does not", "doesnt", "don't", "do not", "dont",
    "didn't", "did not", "isn't", "is not", "isnt", "aren't", "are not", "hasn't", "has not", "haven't",
    "kecuali", "except", "except when", "except if", "except in", "selain", "but not",
)
SAY = _words(
    "says", "say", "said", "saying", "writes", "write", "wrote", "mentions", "mention", "mentioned", "types", "typed",
    "sends", "send", "sent", "asks about", "asks for", "asks", "ask", "contains", "containing", "bilang", "blg",
    "ngomong", "menulis", "nulis", "ketik", "ngetik", "mengetik", "kirim", "ngirim", "mengirim", "menyebut",
    "menyebutkan", "nyebut", "nyebutin", "ada kata", "tanya", "nanya", "bertanya", "menanyakan", "nanyain", "minta",
    "meminta", "mengandung", "berisi", "isinya", "message contains", "pesan berisi", "pesannya berisi",
    "pesan mengandung", "chat berisi", "the message contains",
)
SEND = _words(
    "sends", "send", "sent", "sending", "kirim", "kirimkan", "ngirim", "ngirimin", "mengirim", "mengirimkan",
    "shares", "share", "shared", "uploads", "upload", "uploaded", "posts", "attaches", "attach", "lampirkan",
    "melampirkan", "kasih", "ngasih", "has sent", "sudah kirim", "udah kirim", "udh kirim",
)
# Message types (engine.model.MESSAGE_TYPES) and the words for them.
MESSAGE_TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "image": ("bukti transfer", "bukti tf", "bukti trf", "bukti bayar", "bukti pembayaran", "payment proof",
              "proof of payment", "transfer proof", "screenshot", "ss", "gambar", "foto", "photo", "picture", "pic",
              "image", "img"),
    "video": ("video", "vidio", "vid"),
    "audio": ("voice note", "voice message", "vn", "pesan suara", "rekaman suara", "audio", "voice"),
    "document": ("dokumen", "document", "doc", "file", "pdf", "berkas"),
    "sticker": ("stiker", "sticker"),
    "location": ("share location", "share lokasi", "shareloc", "lokasi", "location"),
    "contact": ("kartu kontak", "contact card", "kontak", "contact"),
    "text": ("teks", "text", "tulisan"),  # only after "type"/"berupa": "kirim teks" is not a type
}
TYPE_OF: dict[str, str] = {word: kind for kind, words in MESSAGE_TYPE_WORDS.items() for word in words}
_MEDIA = _words(*(w for kind, words in MESSAGE_TYPE_WORDS.items() if kind != "text" for w in words)) + "(?:e?s)?"
ANY_TYPE = _words(*TYPE_OF) + "(?:e?s)?"
LIST_SEP = r"\s*(?:,|/|\bor\b|\batau\b|\bato\b)\s*"
COMPARATORS: dict[str, tuple[str, ...]] = {
    "gte": ("at least", "minimal", "minimum", "min", "paling sedikit", "sedikitnya", "setidaknya", ">=", "≥"),
    "lte": ("at most", "maksimal", "maximum", "maks", "max", "paling banyak", "<=", "≤", "no more than"),
    "gt": ("more than", "over", "above", "greater than", "lebih dari", "lebih dr", "lbh dari", "lbh dr",
           "di atas", "diatas", "lewat dari", ">"),
    "lt": ("less than", "fewer than", "under", "below", "kurang dari", "kurang dr", "di bawah", "dibawah", "<"),
    "equal": ("exactly", "tepat", "persis", "sama dengan", "==", "="),
}
OP_OF: dict[str, str] = {re.sub(r"\s+", " ", w): op for op, words in COMPARATORS.items() for w in words}
# Ad platforms: the words people use → the UTM Source values to look for (any of them).
PLATFORMS: dict[str, tuple[str, ...]] = {
    "facebook": ("facebook", "fb"), "fb": ("facebook", "fb"), "meta": ("facebook", "fb", "instagram", "ig"),
    "instagram": ("instagram", "ig"), "insta": ("instagram", "ig"), "ig": ("instagram", "ig"),
    "google": ("google",), "tiktok": ("tiktok",), "tik tok": ("tiktok",), "youtube": ("youtube", "yt"),
    "yt": ("youtube", "yt"),
}
SOURCES: dict[str, str] = {"iklan": "ads", "ads": "ads", "ad": "ads", "website": "website", "web": "website",
                           "situs": "website", "whatsapp": "whatsapp", "wa": "whatsapp", "organik": "organic",
                           "organic": "organic", "referral": "referral"}
PARTNERS: dict[str, str] = {"qontak": "qontak", "wa api": "wa_api", "whatsapp api": "wa_api", "pancake": "pancake",
                            "qiscus": "qiscus", "whatsapp web": "whatsapp_web"}
PRIORITIES: dict[str, str] = {"low": "low", "rendah": "low", "medium": "medium", "sedang": "medium",
                              "menengah": "medium", "high": "high", "tinggi": "high", "urgent": "urgent",
                              "urgen": "urgent", "mendesak": "urgent"}
# Statuses people call by another name; used only when the workspace has the status.
STATUS_ALIASES: dict[str, str] = {"merespons": "responded", "merespon": "responded", "direspon": "responded",
                                  "baru": "new"}
CONVERSIONS: dict[str, str] = {"purchase": "Purchase", "pembelian": "Purchase", "lead": "LeadSubmitted",
                               "leadsubmitted": "LeadSubmitted", "lead submitted": "LeadSubmitted"}
TIME = (r"\d{1,2}(?:[:.]\d{2})?(?:\s*(?:a\.m\.|p\.m\.|am|pm|pagi|siang|sore|malam))?"
        r"(?!\s*(?:messages?|msgs?|chats?|pesan|kali|x|times|points?|poin|%))")
_TO = r"\s*(?:-|–|—|\bto\b|\band\b|\buntil\b|\btill\b|sampai|sampe|\bsmp\b|s/d|s\.d\.?|\bsd\b|hingga|\bdan\b|\bke\b)\s*"
CLOCK_WORD = r"(?:(?:jam|pukul|pkl\.?)\s+)?"
OFFICE = (r"(?:the\s+)?(?:office|business|working|work|opening|kerja)\s+hours|jam\s+(?:kerja|kantor|operasional|buka|"
          r"layanan)")
TAG = r"(?:%QUOTED%|(?!(?:to|ke|the|a|an|it|nya|dan|and|as|sebagai|pada|on|for|untuk)\b)[\w][\w-]*)"

MACROS: dict[str, str] = {
    "NOT": NEGATION, "SAY": SAY, "SEND": SEND, "A": r"(?:(?:a|an|some|the|sebuah|satu|any)\s+)?",
    "MEDIA": rf"{_MEDIA}(?:{LIST_SEP}(?:(?:a|an|the)\s+)?{_MEDIA})*",
    "ANYTYPE": rf"{ANY_TYPE}(?:{LIST_SEP}(?:(?:a|an|the)\s+)?{ANY_TYPE})*",
    "UNIT": r"(?:messages?|msgs?|chats?|pesan|kali(?:\s+chat)?|times|x)",
    "CMP": _words(*OP_OF),
    "RANGE": rf"{CLOCK_WORD}{TIME}{_TO}{CLOCK_WORD}{TIME}",
    "OFFICE": OFFICE,
    "QUOTED": f"[\"'“”‘’]{MASK}+[\"'“”‘’]",
    "TAG": TAG,
    "PLATFORM": _words(*PLATFORMS),
    "PRIORITY": _words(*PRIORITIES),
    "URL": r"https?://[^\s\"'“”‘’<>]*[^\s\"'“”‘’<>.,;:!?)]",
    "TEAM": _words("cs", "admin", "admins", "team", "tim", "sales", "staff", "staf", "agent", "agen", "operator",
                   "kami", "we", "our team", "tim kami", "tim cs", "customer service", "owner", "penjual", "seller"),
}

# Where a keyword list ends (besides the next understood phrase): a clause word or a sentence stop.
VALUE_STOP = (r"(?<![\w])(?:if|when|whenever|kalau|kalo|klo|jika|jk|bila|apabila|then|maka|lalu|terus|trus|trs|"
              r"kemudian|but|tapi|tetapi|namun|kecuali|except)(?![\w])|[.;!?](?=\s|$)|\n")
# Words a keyword list may trail or lead with that are not keywords.
VALUE_TRAIL = r"(?:\s*(?:,|&|\band\b|\bdan\b|\bserta\b|\bor\b|\batau\b|\bato\b|\balso\b|\bjuga\b))+\s*$"
VALUE_LEAD = (r"^\s*(?:(?:(?:about|soal|tentang|for|kata(?:-kata)?|kalimat|the\s+words?|a\s+word|words?\s+like|"
              r"something\s+like|sesuatu\s+seperti|seperti|like)(?![\w])|:)\s*)+")
KEYWORD_SPLIT = r"\s*(?:,|/|\bor\b|\batau\b|\bato\b)\s*"
LIST_SPLIT = r"\s*(?:,|/|\bor\b|\batau\b|\bato\b|\band\b|\bdan\b)\s*"
# After a keyword verb, these start an unfinished action, not keywords ("kirim webhook" without a URL).
NOT_KEYWORDS = frozenset({"webhook", "balasan", "reply", "a reply", "tag", "label", "skor", "score", "poin",
                          "points", "konversi", "conversion", "status"})
# A comma list of keywords ends at a segment starting with one of these ("bilang promo, balas ...").
ACTION_VERBS = frozenset("""
reply answer respond balas bales jawab change set move mark update make ubah ubh rubah ganti pindah pindahkan
jadikan tandai add put give tambah tambahkan tambahin kasih beri remove delete hapus buang ambil take capture catat
simpan save send kirim post stop subtract kurangi
""".split())
OR_WORDS = frozenset({"or", "atau", "ato", "ataupun", "maupun"})
AND_WORDS = frozenset({"and", "dan", "serta", "&", "also", "juga", "plus"})

FILLER = frozenset("""
if when whenever once kalau kalo klo kl jika jk bila apabila ketika saat begitu the a an and dan & or atau ato then
maka lalu terus trus trs kemudian it its itu ini this that nya customer customers pelanggan konsumen client klien
buyer pembeli user orang dia mereka they he she someone somebody seseorang lead leads status to ke jadi menjadi as
is are was be sudah udah udh sdh dah telah already please tolong pls yang yg di sender pengirim says bilang with
dengan for untuk in on at of by from dari dalam pada also juga just saja aja only hanya langsung directly auto
otomatis automatically rule aturan should must harus will akan ada any some every setiap tiap semua all message
messages pesan chat chats incoming masuk new comes come arrives receive receives received wa whatsapp me my our kami
kita we you kamu anda lah dong ya yah deh sih nih tuh kak min gan sis bro mas mbak ok oke okay serta
""".split())
# Words that narrow when a rule applies ("the lead is still new", "unless", "kecuali"): left over, or
# swallowed into a keyword, they mean the draft may fire more often than the sentence says.
CONDITION_WORDS = frozenset({"still", "only", "unless", "except", "masih", "kecuali", "hanya", "cuma", "but", "tapi"})
# A word left over that usually means a near miss: what to say about it.
HINTS: dict[str, str] = {
    "balas": "put the reply in quotes: balas 'terima kasih'", "reply": "put the reply in quotes: reply 'thanks'",
    "jawab": "put the reply in quotes: balas 'terima kasih'",
    "tag": "name the tag: tambah tag vip", "webhook": "give the address: kirim webhook ke https://…",
    "jam": "give the hours: jam 09:00-17:00", "between": "give the hours: between 09:00 and 17:00",
    "weekend": "there is no day-of-week condition; use a time window", "sabtu": "there is no day-of-week condition",
    "minggu": "there is no day-of-week condition", "monday": "there is no day-of-week condition",
    "senin": "there is no day-of-week condition", "sunday": "there is no day-of-week condition",
    "saturday": "there is no day-of-week condition",
    "status": "name a status of this workspace", "skor": "give a number: tambah skor 10",
    "score": "give a number: add 5 points",
}
EXAMPLES = ("“kalau customer bilang transfer atau sudah bayar dan status hot, ubah ke purchase dan ambil nominal Rp”",
            "“if the customer sends a photo outside office hours, add tag payment-proof and reply 'thanks, we will "
            "check'”")


def expand(pattern: str, statuses: str) -> str:
    """Replace the %WORD% macros (twice: macros may use macros)."""
    table = {**MACROS, "STATUS": statuses, "LISTSEP": LIST_SEP}
    for _ in range(2):
        pattern = re.sub(r"%([A-Z]+)%", lambda m: table[m.group(1)], pattern)
    return pattern
