"""Rows as JSON Lines and CSV: one conversion of database values for export, import and checks."""

from __future__ import annotations

import csv
import datetime
import decimal
import ipaddress
import json
import uuid
from collections.abc import Iterator

from tenants import crypto

# A cell starting with one of these is a formula to a spreadsheet (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def plain(value):
    """A database value as JSON: strings for uuids, times, decimals; `\\x<hex>` for bytes."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (uuid.UUID, decimal.Decimal, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return str(value.ip) if value.network.prefixlen == value.max_prefixlen else str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, (bytes, memoryview, bytearray)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return str(value)


def decrypted(values: list, positions: list[tuple[int, str]]) -> list:
    """Replace the encrypted values at `positions` (index, purpose) with their plaintext."""
    for position, purpose in positions:
        value = values[position]
        if value is not None:
            values[position] = crypto.decrypt(bytes(value), purpose=purpose).decode()
    return values


def json_positions(columns: list[str], types: dict[str, str]) -> list[int]:
    """Indexes of json/jsonb columns: the driver hands them over as JSON text (Django's loader)."""
    return [i for i, c in enumerate(columns) if types[c] in ("json", "jsonb")]


def parsed(values: list, positions: list[int]) -> list:
    for position in positions:
        if isinstance(values[position], (str, bytes)):
            values[position] = json.loads(values[position])
    return values


def json_line(columns: list[str], values: list) -> bytes:
    row = {column: plain(value) for column, value in zip(columns, values, strict=True)}
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    converted = plain(value)
    if isinstance(converted, (list, dict)):
        text = json.dumps(converted, ensure_ascii=False, separators=(",", ":"))
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    return str(converted)


class CsvLines:
    """Format rows as CSV lines (RFC 4180, CRLF) without holding more than one row."""

    def __init__(self):
        self.buffer = _Buffer()
        self.writer = csv.writer(self.buffer)

    def line(self, values) -> bytes:
        self.writer.writerow([csv_cell(value) for value in values])
        return self.buffer.take().encode()


class _Buffer:
    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def fetch(cursor, size: int = 2000) -> Iterator[list]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        for row in rows:
            yield list(row)
