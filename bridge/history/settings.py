"""[history]: what the phone's history sync does when a number is linked.

```toml
[history]
enabled = true        # store the history WhatsApp sends at pairing
run_rules = false     # true: history goes through the rules in time order, like a replay
max_age_days = 90     # history messages older than this are not stored
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge.errors import ConfigError
from bridge.settings_parse import SectionReader, flag

MAX_AGE_LIMIT_DAYS = 3650


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """[history]"""

    enabled: bool = True
    run_rules: bool = False
    max_age_days: int = 90

    def oldest(self, now: datetime) -> datetime:
        """History before this moment is not stored."""
        return now - timedelta(days=self.max_age_days)


def _days(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AGE_LIMIT_DAYS:
        raise ConfigError(key, value, f"a whole number of days from 1 to {MAX_AGE_LIMIT_DAYS}")
    return value


def parse_history_settings(section: SectionReader) -> HistorySettings:
    """Read [history] (every key optional)."""
    return HistorySettings(
        enabled=section.get("enabled", True, flag),
        run_rules=section.get("run_rules", False, flag),
        max_age_days=section.get("max_age_days", 90, _days),
    )
