"""Export files at rest: the ZIP cut into 1 MiB chunks, each encrypted with the tenant's data key.

Each stored frame is a 4-byte length and a `tenants.crypto` ciphertext whose associated data
names the tenant, the export, the chunk's index and whether it is the last one, so a chunk that
is altered, reordered, dropped, or taken from another export or tenant fails to decrypt. The
same idea as lifecycle's backup file (lifecycle/archive.py), without its record layer: the
payload is already a compressed ZIP.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from tenants import crypto
from tenants.context import tenant_context

CHUNK_BYTES = 1024 * 1024
LENGTH = struct.Struct(">I")


class ContainerError(Exception):
    """The stored export is damaged, incomplete, or not this tenant's."""


def _purpose(export_id, index: int, final: bool) -> str:
    return f"export:{export_id}:chunk:{index}:{'final' if final else 'more'}"


def seal(plaintext: Iterable[bytes], *, tenant, export_id) -> Iterator[bytes]:
    """Encrypt a stream of bytes into frames (one chunk held back to mark the last)."""
    pending = bytearray()
    index = 0
    held: bytes | None = None
    for piece in plaintext:
        pending += piece
        while len(pending) >= CHUNK_BYTES:
            if held is not None:
                yield _frame(held, tenant, export_id, index, final=False)
                index += 1
            held = bytes(pending[:CHUNK_BYTES])
            del pending[:CHUNK_BYTES]
    if held is not None and pending:
        yield _frame(held, tenant, export_id, index, final=False)
        index += 1
        held = None
    yield _frame(held if held is not None else bytes(pending), tenant, export_id, index, final=True)


def _frame(data: bytes, tenant, export_id, index: int, *, final: bool) -> bytes:
    with tenant_context(tenant):
        blob = crypto.encrypt(data, purpose=_purpose(export_id, index, final))
    return LENGTH.pack(len(blob)) + blob


def unseal(stored: Iterable[bytes], *, tenant, export_id) -> Iterator[bytes]:
    """Decrypt stored frames back into the ZIP's bytes; raise ContainerError on any damage."""
    buffer = bytearray()
    source = iter(stored)
    exhausted = False
    index = 0
    current: bytes | None = None
    while True:
        while not exhausted and (
            len(buffer) < LENGTH.size or len(buffer) < LENGTH.size + LENGTH.unpack_from(buffer)[0]
        ):
            piece = next(source, None)
            if piece is None:
                exhausted = True
            else:
                buffer += piece
        if not buffer:
            break
        if len(buffer) < LENGTH.size or len(buffer) < LENGTH.size + LENGTH.unpack_from(buffer)[0]:
            raise ContainerError("the export ends in the middle of a chunk")
        size = LENGTH.unpack_from(buffer)[0]
        frame = bytes(buffer[LENGTH.size : LENGTH.size + size])
        del buffer[: LENGTH.size + size]
        if current is not None:
            yield _open(current, tenant, export_id, index, final=False)
            index += 1
        current = frame
    if current is None:
        raise ContainerError("the export is empty")
    yield _open(current, tenant, export_id, index, final=True)


def _open(frame: bytes, tenant, export_id, index: int, *, final: bool) -> bytes:
    try:
        with tenant_context(tenant):
            return crypto.decrypt(frame, purpose=_purpose(export_id, index, final))
    except crypto.DecryptionError as error:
        raise ContainerError(f"chunk {index} does not decrypt: {error}") from None
