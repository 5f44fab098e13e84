"""Money as the dashboard's users write it: Indonesian Rupiah, "Rp 1.500.000".

Dots group thousands; a value with a fractional part shows two decimals after a comma
("Rp 1.500.000,50"). The CSV export and the JSON API keep plain numbers (machines read
them); only pages use this. Registered as the Jinja filter `rupiah` (bridge.http).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["NO_VALUE", "rupiah"]

NO_VALUE = "—"  # what pages show for an unset value
_CENT = Decimal("0.01")


def rupiah(value: object) -> str:
    """`1500000` → "Rp 1.500.000"; `-2500.5` → "-Rp 2.500,50"; None or "" → "—".

    Text that is not a number is shown as it is (a page never fails over a bad value).
    """
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, bool):
        return str(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    cents = int((abs(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    whole, fraction = divmod(cents, 100)
    text = f"{whole:,}".replace(",", ".")
    if fraction:
        text += f",{fraction:02d}"
    sign = "-" if amount < 0 and cents else ""
    return f"{sign}Rp {text}"
