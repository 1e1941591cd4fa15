"""Zips written byte by byte, for archives zipfile will not write: zip bombs and lying headers.

The layout is APPNOTE.TXT's (local file header, data, central directory, end record); no
zip64, so sizes stay below 4 GiB. A bomb's data is built from one compressed MiB repeated,
so a 3 GiB entry costs about 3 MB and a second, not gigabytes of compression.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

MiB = 1 << 20
GiB = 1 << 30
_DOS_DATE_1980_01_01 = (1 << 5) | 1


@dataclass(frozen=True)
class RawEntry:
    """One member: ``payload`` as stored (raw deflate when ``method`` is 8)."""

    name: str
    payload: bytes
    crc: int
    size: int  # the real uncompressed size
    declared_size: int | None = None  # what the headers claim; the real size unless set
    method: int = 8
    name_encoding: str = "utf-8"  # written without the UTF-8 flag, as Windows and old macOS tools do


def deflated(name: str, data: bytes) -> RawEntry:
    """An ordinary deflated member holding ``data``."""
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return RawEntry(name, co.compress(data) + co.flush(), zlib.crc32(data), len(data))


@lru_cache(maxsize=4)
def _zeros(size: int) -> tuple[bytes, int]:
    assert size % MiB == 0
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(bytes(MiB)) + co.flush(zlib.Z_FULL_FLUSH)
    # a full flush starts the compressor afresh and byte-aligns the stream, so every further
    # MiB compresses to these same bytes; a fresh compressor's flush is a valid final block
    payload = block * (size // MiB) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc, chunk = 0, bytes(64 * MiB)
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    for _ in range(size % len(chunk) // MiB):
        crc = zlib.crc32(chunk[:MiB], crc)
    return payload, crc


def zeros(name: str, size: int, declared_size: int | None = None) -> RawEntry:
    """A member of ``size`` zero bytes (a multiple of 1 MiB), a few KB per MiB compressed."""
    payload, crc = _zeros(size)
    return RawEntry(name, payload, crc, size, declared_size)


def raw_zip(entries: list[RawEntry]) -> bytes:
    out, central = bytearray(), bytearray()
    for e in entries:
        name = e.name.encode(e.name_encoding)
        size = e.size if e.declared_size is None else e.declared_size
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, e.method, 0, _DOS_DATE_1980_01_01, e.crc, len(e.payload), size, len(name), 0)
        out += name + e.payload
        central += struct.pack(
            "<4s6H3L5HLL", b"PK\x01\x02", 20, 20, 0, e.method, 0, _DOS_DATE_1980_01_01,
            e.crc, len(e.payload), size, len(name), 0, 0, 0, 0, 0, offset,
        ) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)
