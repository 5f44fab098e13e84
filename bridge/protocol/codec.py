"""One frame <-> one line: `encode` and `decode`, with the checks of every wire field.

`decode` rejects unknown versions, unknown types, missing required fields and wrongly
typed values with a `ProtocolError` that names the problem; unknown *extra* keys are
ignored so a newer peer can add optional fields without a version bump. `encode` runs the
same checks, so a side never sends what its peer would reject, and refuses a frame over
`MAX_FRAME_BYTES`.
"""

from __future__ import annotations

import json
import types
from dataclasses import MISSING, dataclass, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from bridge.protocol.frames import DAEMON, FRAMES, PROTOCOL_VERSION, WORKER, Frame
from bridge.protocol.framing import MAX_FRAME_BYTES


class ProtocolError(ValueError):
    """A line that is not a valid v1 frame."""


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    attr: str
    wire: str
    types: tuple[type, ...]
    required: bool
    choices: tuple[str, ...] | None


def _accepted_types(hint: Any) -> tuple[type, ...]:
    origin = get_origin(hint)
    if origin in (types.UnionType, Union):
        out: list[type] = []
        for arg in get_args(hint):
            out.extend(_accepted_types(arg))
        return tuple(out)
    if hint is type(None):
        return (type(None),)
    if origin is not None:  # dict[str, Any] and friends: check the container only
        return (origin,)
    if hint in (str, int, bool, dict, list, float):
        return (hint,)
    raise TypeError(f"unsupported protocol field type {hint!r}")


def _build_specs() -> dict[type[Frame], tuple[_FieldSpec, ...]]:
    specs: dict[type[Frame], tuple[_FieldSpec, ...]] = {}
    for name, cls in FRAMES.items():
        if not name or cls.SENDER not in (WORKER, DAEMON):
            raise TypeError(f"frame class {cls.__name__} lacks TYPE or SENDER")
        hints = get_type_hints(cls)
        specs[cls] = tuple(
            _FieldSpec(
                attr=f.name,
                wire=f.metadata.get("wire", f.name),
                types=_accepted_types(hints[f.name]),
                required=f.default is MISSING and f.default_factory is MISSING,
                choices=f.metadata.get("choices"),
            )
            for f in fields(cls)
        )
    return specs


_SPECS = _build_specs()


def _type_ok(value: Any, accepted: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass; never let it pass as a number
        return bool in accepted
    return isinstance(value, accepted)


def _type_names(accepted: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}
    return " or ".join("null" if t is type(None) else names.get(t, t.__name__) for t in accepted)


def _check_fields(cls: type[Frame], raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the wire fields of one frame; return constructor keyword arguments."""
    kwargs: dict[str, Any] = {}
    for spec in _SPECS[cls]:
        if spec.wire not in raw:
            if spec.required:
                raise ProtocolError(f"{cls.TYPE}: missing field {spec.wire!r}")
            continue
        value = raw[spec.wire]
        if not _type_ok(value, spec.types):
            raise ProtocolError(
                f"{cls.TYPE}.{spec.wire}: expected {_type_names(spec.types)}, "
                f"got {type(value).__name__}"
            )
        if spec.choices is not None and value is not None and value not in spec.choices:
            raise ProtocolError(
                f"{cls.TYPE}.{spec.wire}: {value!r} is not one of {', '.join(spec.choices)}"
            )
        kwargs[spec.attr] = value
    return kwargs


def frame_to_dict(frame: Frame) -> dict[str, Any]:
    """Return the wire object of a frame (with `v` and `type`)."""
    cls = type(frame)
    if FRAMES.get(cls.TYPE) is not cls:
        raise ProtocolError(f"{cls.__name__} is not a registered frame type")
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": cls.TYPE}
    for spec in _SPECS[cls]:
        out[spec.wire] = getattr(frame, spec.attr)
    _check_fields(cls, out)  # refuse to send what the peer would reject
    return out


def encode(frame: Frame) -> bytes:
    """Serialise a frame as one UTF-8 JSON line ending in a newline."""
    obj = frame_to_dict(frame)
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{frame.TYPE}: not JSON-serialisable ({exc})") from None
    data = text.encode("utf-8") + b"\n"
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(f"{frame.TYPE}: {len(data)} bytes is over the {MAX_FRAME_BYTES}-byte frame limit")
    return data


def decode(line: bytes | str) -> Frame:
    """Parse one line into its frame; raise `ProtocolError` naming what is wrong."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("frame is not valid UTF-8") from None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise ProtocolError("frame must be a JSON object")
    version = raw.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(
            f"unsupported protocol version {version!r} (this side speaks {PROTOCOL_VERSION})"
        )
    type_name = raw.get("type")
    cls = FRAMES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise ProtocolError(f"unknown frame type {type_name!r}")
    return cls(**_check_fields(cls, raw))
