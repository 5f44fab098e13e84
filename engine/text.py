"""Text helpers shared by operators and actions: normalisation, keyword lists, RE2."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlsplit

import re2  # type: ignore[import-untyped]

from engine.errors import RuleError

_SURROGATE = re.compile("[\ud800-\udfff]")


def readable(text: str) -> str:
    """The text with any lone surrogate (JSON may escape one: "\\ud800") as U+FFFD: such a string
    cannot be stored as UTF-8, and a message carrying one is still kept, readably."""
    if text.isascii() or _SURROGATE.search(text) is None:  # the usual case: one C scan, no copy
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_HOST_LABELS = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}"
                          r"[A-Za-z0-9_])?)*\.?")


def is_web_url(url: str) -> bool:
    """An http:// or https:// URL a request can be sent to: a host (a name, or an IP address in
    brackets for IPv6), a port if any from 1 to 65535, no control character. The path and query
    are the HTTP client's to encode (a space there is sent as %20): a space only counts in the host.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):  # urlsplit would drop a tab or newline silently
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port out of range or not a number
    except ValueError:  # "http://[::1": an unclosed IPv6 literal
        return False
    if " " in parts.netloc:
        return False
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or port == 0:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")  # "ä.com" → "xn--4ca.com"
    except UnicodeError:
        return False
    return len(ascii_host) <= 253 and _HOST_LABELS.fullmatch(ascii_host) is not None


def normalise(text: str) -> str:
    """Fold case and collapse whitespace, the form every non-regex comparison uses."""
    return " ".join(text.split()).casefold()


def keyword_list(value: object, path: str) -> tuple[str, ...]:
    """Turn a list or a comma-separated string into normalised, non-empty keywords."""
    items: Sequence[object]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise RuleError(path, "must be a text, a comma-separated list, or a list of texts")
    words: dict[str, None] = {}  # ordered and de-duplicated in linear time
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise RuleError(f"{path}[{index}]", "must be a text or a number")
        word = normalise(str(item))
        if word:
            words[word] = None
    if not words:
        raise RuleError(path, "needs at least one non-empty keyword")
    return tuple(words)


def re2_options() -> re2.Options:
    """Options for user regexes: case-insensitive, quiet (errors come back as exceptions)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


def compile_user_regex(pattern: object, path: str) -> re2._Regexp:
    """Compile a user pattern with RE2 (linear time) or raise `RuleError` with RE2's reason."""
    if not isinstance(pattern, str) or not pattern:
        raise RuleError(path, "must be a non-empty regular expression")
    if len(pattern) > 2000:
        raise RuleError(path, "is longer than 2000 characters")
    try:
        return re2.compile(pattern, re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RuleError(
            path,
            "%(value)s is not a valid RE2 regular expression (%(reason)s); "
            "lookaround and backreferences are not supported because they can take "
            "exponential time", value=repr(pattern), reason=reason,
        ) from None


@lru_cache(maxsize=1024)
def cached_regex(pattern: str) -> re2._Regexp:
    """Compile a pattern that was validated when its rule was saved (cached per process)."""
    return compile_user_regex(pattern, "pattern")
