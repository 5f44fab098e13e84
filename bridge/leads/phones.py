"""A phone number as people type it → the digits wabridge keys leads by (62812…).

`0812-3456-7890` and `812 3456 7890` are Indonesian national numbers (the shops are in
Indonesia); `+62 812 3456 7890`, `0062…` and `62812…` carry their country code. The
`phonenumbers` library (libphonenumber's metadata) decides whether the result can be a phone.
"""

from __future__ import annotations

import phonenumbers

from engine.changes import ChangeError

DEFAULT_REGION = "ID"
MAX_PHONE_INPUT = 40  # characters; anything longer is not a phone number
# Indonesian numbers (country code 62) have 9 to 12 national digits (mobile 9-12, landlines 9-11
# with the area code): the common forms are read without the library, 50,000 a second.
_ID_NATIONAL_DIGITS = range(9, 13)
_SEPARATORS = str.maketrans("", "", " -().\u00a0/")


def normalise_lead_phone(raw: object, field: str = "phone") -> str:
    """Digits with country code, or ChangeError naming `field`."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise ChangeError(field, "must be a phone number, e.g. 0812-3456-7890 or +62 812 3456 7890")
    text = str(raw).strip()
    if not text:
        raise ChangeError(field, "is required")
    if len(text) > MAX_PHONE_INPUT:
        raise ChangeError(field, "is %(length)s characters long; a phone number has at most %(most)s",
                          length=len(text), most=MAX_PHONE_INPUT)
    if "@" in text:  # a WhatsApp JID: 628…@s.whatsapp.net
        text = text.split("@", 1)[0].split(":", 1)[0]
    compact = text.translate(_SEPARATORS)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    quick = _indonesian(compact)
    if quick is not None:
        return quick
    try:
        if compact.startswith("+"):
            number = phonenumbers.parse(compact, None)
        elif compact.startswith(("0", "8")):
            number = phonenumbers.parse(compact, DEFAULT_REGION)
        else:
            number = phonenumbers.parse("+" + compact, None)
    except phonenumbers.NumberParseException:
        raise ChangeError(field, "%(value)s is not a phone number (e.g. 0812-3456-7890 or +62 812 3456 7890)",
                          value=repr(raw)) from None
    if not phonenumbers.is_possible_number(number):
        raise ChangeError(field, "%(value)s cannot be a phone number (wrong length for its country)", value=repr(raw))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def _indonesian(compact: str) -> str | None:
    """62… digits for a plainly Indonesian number (0812…, 812…, 62812…, +62812…), else None."""
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isascii() or not digits.isdigit():
        return None
    if compact.startswith("+") or digits.startswith("62"):
        national = digits[2:] if digits.startswith("62") else None
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith("8"):
        national = digits
    else:
        national = None
    if national is None or national.startswith("0") or len(national) not in _ID_NATIONAL_DIGITS:
        return None
    return "62" + national
