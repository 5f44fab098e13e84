"""A lead's export form (DESIGN.md "Lead"): what `Lead.to_dict` returns.

Why a module of its own: it is built for every webhook a message queues, and one dict display
naming each field costs two thirds of a loop over the fields that then converts some of them
(scripts/bench.py). tests/engine/test_engine_lead_form.py keeps it in step with the Lead's fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.memo import iso_text

if TYPE_CHECKING:
    from engine.model import Lead


def lead_form(lead: Lead) -> dict[str, Any]:
    """The lead's fields in their order: unset is None, tags sorted, times as ISO text, whole
    numbers as integers."""
    created, updated = lead.created_at, lead.updated_at
    return {
        "phone": lead.phone,
        "jid": lead.jid,
        "status": lead.status,
        "name": lead.name,
        "priority": lead.priority,
        "score": _number(lead.score),
        "source": lead.source,
        "notes": lead.notes,
        "city": lead.city,
        "region": lead.region,
        "country": lead.country,
        "utm_source": lead.utm_source,
        "utm_medium": lead.utm_medium,
        "utm_campaign": lead.utm_campaign,
        "utm_term": lead.utm_term,
        "utm_content": lead.utm_content,
        "ctwa_clid": lead.ctwa_clid,
        "ad_source_id": lead.ad_source_id,
        "ad_source_url": lead.ad_source_url,
        "fbclid": lead.fbclid,
        "gclid": lead.gclid,
        "value_actual": _number(lead.value_actual),
        "value_potential": _number(lead.value_potential),
        "tags": sorted(lead.tags),
        "chat_count": lead.chat_count,
        "created_at": iso_text(created) if created is not None else None,
        "updated_at": iso_text(updated) if updated is not None else None,
    }


def _number(value: float | None) -> float | int | None:
    """1500000.0 → 1500000: a whole amount reads as one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
