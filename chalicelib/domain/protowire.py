"""The protobuf wire format, read and written by hand for the few OTLP messages CostPilot needs.

Pure Python and small on purpose: the ``protobuf`` runtime plus ``opentelemetry-proto`` add about
0.3 MB to the deployment zip and 0.2-0.4 s to a cold start (their generated modules build
descriptor pools at import), for three messages that this module decodes in a hundred lines.

``fields(buf)`` yields ``(field_number, wire_type, value)``: an ``int`` for varints and fixed-width
values (fixed64/fixed32 as unsigned), a ``bytes`` slice for length-delimited fields. Groups
(wire types 3 and 4) are deprecated and never used by OTLP: they are refused, as is anything
truncated or overlong, with ``ProtoError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, I64, LEN, I32 = 0, 1, 2, 5
MAX_VARINT_BYTES = 10


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = min(len(buf), pos + MAX_VARINT_BYTES)
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise ProtoError("truncated or overlong varint")


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Every field of one message, in wire order."""
    pos, size = 0, len(buf)
    while pos < size:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == VARINT:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == LEN:
            length, pos = _varint(buf, pos)
            if pos + length > size:
                raise ProtoError("length-delimited field runs past the end")
            yield number, wire, buf[pos:pos + length]
            pos += length
        elif wire == I64:
            if pos + 8 > size:
                raise ProtoError("truncated fixed64")
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == I32:
            if pos + 4 > size:
                raise ProtoError("truncated fixed32")
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def signed64(value: int) -> int:
    """An int64 sent as a varint (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def as_double(value: int) -> float:
    return struct.unpack("<d", value.to_bytes(8, "little"))[0]


def text(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise ProtoError(f"{what}: expected a string")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtoError(f"{what}: not UTF-8") from None


def blob(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProtoError(f"{what}: expected bytes")
    return value


def number(value: int | bytes, what: str) -> int:
    if isinstance(value, bytes):
        raise ProtoError(f"{what}: expected a number")
    return value


# --- writing (responses are two tiny messages) ------------------------------------------------


def _encode_varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_varint_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | VARINT) + _encode_varint(value) if value else b""


def encode_bytes_field(number: int, value: bytes) -> bytes:
    return _encode_varint(number << 3 | LEN) + _encode_varint(len(value)) + value if value else b""
