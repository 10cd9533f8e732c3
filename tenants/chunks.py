"""Objects at rest: a byte stream cut into 1 MiB chunks, each encrypted with the tenant's data key.

Each stored frame is a 4-byte big-endian length and a `tenants.crypto` ciphertext whose
associated data (the purpose) is `<kind>:<object id>:chunk:<index>:<final|more>`, so a chunk
that is altered, reordered, dropped, or taken from another object or tenant fails to decrypt.
Backups (`lifecycle.archive`, kind "backup", a record layer on top) and exports (kind
"export", the payload is a ZIP) are stored this way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from tenants import crypto
from tenants.context import tenant_context

CHUNK_BYTES = 1024 * 1024
LENGTH = struct.Struct(">I")


class ChunkError(Exception):
    """The stored object is damaged, incomplete, or not this tenant's."""


def chunk_purpose(kind: str, object_id, index: int, final: bool) -> str:
    return f"{kind}:{object_id}:chunk:{index}:{'final' if final else 'more'}"


class Sealer:
    """Bytes in, encrypted frames out: `write` and `close`, then `take` what is ready to store.

    One chunk is always held back: only at `close` is it known which chunk is the last. Every
    chunk but the last holds exactly CHUNK_BYTES; the last holds the rest (empty if nothing
    was written).
    """

    def __init__(self, *, tenant, kind: str, object_id):
        self.tenant = tenant
        self.kind = kind
        self.object_id = object_id
        self.pending = bytearray()
        self.index = 0
        self.ready: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) > CHUNK_BYTES:
            self._seal(bytes(self.pending[:CHUNK_BYTES]), final=False)
            del self.pending[:CHUNK_BYTES]

    def close(self) -> None:
        self._seal(bytes(self.pending), final=True)
        self.pending.clear()

    def take(self) -> list[bytes]:
        ready, self.ready = self.ready, []
        return ready

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        with tenant_context(self.tenant):
            blob = crypto.encrypt(
                plaintext, purpose=chunk_purpose(self.kind, self.object_id, self.index, final)
            )
        self.ready.append(LENGTH.pack(len(blob)) + blob)
        self.index += 1


def seal(plaintext: Iterable[bytes], *, tenant, kind: str, object_id) -> Iterator[bytes]:
    """Encrypt a stream of bytes into the frames to store."""
    sealer = Sealer(tenant=tenant, kind=kind, object_id=object_id)
    for piece in plaintext:
        sealer.write(piece)
        yield from sealer.take()
    sealer.close()
    yield from sealer.take()


def _frames(stored: Iterable[bytes], kind: str) -> Iterator[tuple[bytes, bool]]:
    """Split stored bytes into ciphertext frames, each with whether it is the last one."""
    buffer = bytearray()
    source = iter(stored)
    exhausted = False
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
            raise ChunkError(f"the {kind} ends in the middle of a chunk")
        size = LENGTH.unpack_from(buffer)[0]
        frame = bytes(buffer[LENGTH.size : LENGTH.size + size])
        del buffer[: LENGTH.size + size]
        if current is not None:
            yield current, False
        current = frame
    if current is None:
        raise ChunkError(f"the {kind} is empty")
    yield current, True


def unseal(stored: Iterable[bytes], *, tenant, kind: str, object_id) -> Iterator[bytes]:
    """Decrypt stored frames back into the plaintext, chunk by chunk; raise ChunkError on any damage."""
    for index, (frame, final) in enumerate(_frames(stored, kind)):
        try:
            with tenant_context(tenant):
                data = crypto.decrypt(frame, purpose=chunk_purpose(kind, object_id, index, final))
        except crypto.DecryptionError as error:
            raise ChunkError(f"chunk {index} does not decrypt: {error}") from None
        yield data
