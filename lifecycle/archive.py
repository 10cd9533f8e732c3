"""The backup file: records, compressed, cut into chunks, each encrypted with the tenant's data key.

Records (before compression): one type byte, a 4-byte length, the payload. `H` starts a table
(JSON: name, columns), `D` holds rows in PostgreSQL's COPY text format, `E` ends the table, and
the last record `M` is the manifest. The compressed stream is cut into chunks of at most
CHUNK_BYTES; each is stored as a 4-byte length and a `tenants.crypto` ciphertext whose
associated data names the tenant, the backup, the chunk's index and whether it is the last, so
a chunk that is altered, moved, dropped, or taken from another backup or tenant fails to decrypt.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator

from tenants import crypto
from tenants.context import tenant_context

CHUNK_BYTES = 1024 * 1024
COMPRESSION_LEVEL = 3
LENGTH = struct.Struct(">I")
RECORD = struct.Struct(">cI")
HEADER, DATA, END, MANIFEST = b"H", b"D", b"E", b"M"
CIPHER = "AES-256-GCM"
COMPRESSION = "zlib"


class ArchiveError(Exception):
    """The backup is damaged, incomplete, or cannot be decrypted with this tenant's key."""


def _purpose(backup_id, index: int, final: bool) -> str:
    return f"backup:{backup_id}:chunk:{index}:{'final' if final else 'more'}"


class ArchiveWriter:
    """Turn records into encrypted chunks; `frames()` yields the bytes to store as they are ready."""

    def __init__(self, *, tenant, backup_id):
        self.tenant = tenant
        self.backup_id = backup_id
        self.compressor = zlib.compressobj(COMPRESSION_LEVEL)
        self.pending = bytearray()
        self.index = 0
        self.ready: list[bytes] = []

    def record(self, kind: bytes, payload: bytes) -> None:
        self.pending += self.compressor.compress(RECORD.pack(kind, len(payload)))
        self.pending += self.compressor.compress(payload)
        # Keep one chunk back: only at close is it known which chunk is the last.
        while len(self.pending) > CHUNK_BYTES:
            self._seal(bytes(self.pending[:CHUNK_BYTES]), final=False)
            del self.pending[:CHUNK_BYTES]

    def close(self) -> None:
        self.pending += self.compressor.flush()
        while len(self.pending) > CHUNK_BYTES:
            self._seal(bytes(self.pending[:CHUNK_BYTES]), final=False)
            del self.pending[:CHUNK_BYTES]
        self._seal(bytes(self.pending), final=True)
        self.pending.clear()

    def take(self) -> list[bytes]:
        ready, self.ready = self.ready, []
        return ready

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        with tenant_context(self.tenant):
            blob = crypto.encrypt(plaintext, purpose=_purpose(self.backup_id, self.index, final))
        self.ready.append(LENGTH.pack(len(blob)) + blob)
        self.index += 1


def _frames(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Split stored bytes into ciphertext frames, each with whether it is the last one."""
    buffer = bytearray()
    source = iter(chunks)
    exhausted = False
    current: bytes | None = None
    while True:
        while not exhausted and (
            len(buffer) < LENGTH.size or len(buffer) < LENGTH.size + LENGTH.unpack_from(buffer)[0]
        ):
            chunk = next(source, None)
            if chunk is None:
                exhausted = True
            else:
                buffer += chunk
        if len(buffer) == 0:
            break
        if len(buffer) < LENGTH.size:
            raise ArchiveError("the backup ends in the middle of a chunk")
        size = LENGTH.unpack_from(buffer)[0]
        if len(buffer) < LENGTH.size + size:
            raise ArchiveError("the backup ends in the middle of a chunk")
        frame = bytes(buffer[LENGTH.size : LENGTH.size + size])
        del buffer[: LENGTH.size + size]
        if current is not None:
            yield current, False
        current = frame
    if current is None:
        raise ArchiveError("the backup is empty")
    yield current, True


def read_records(chunks: Iterable[bytes], *, tenant, backup_id) -> Iterator[tuple[bytes, bytes]]:
    """Decrypt, decompress and yield (kind, payload) records; raise ArchiveError on any damage."""
    decompressor = zlib.decompressobj()
    buffer = bytearray()
    seen_manifest = False
    for index, (frame, final) in enumerate(_frames(chunks)):
        try:
            with tenant_context(tenant):
                data = crypto.decrypt(frame, purpose=_purpose(backup_id, index, final))
        except crypto.DecryptionError as error:
            raise ArchiveError(f"chunk {index} does not decrypt: {error}") from None
        while True:
            try:
                # Inflate a bounded piece at a time: memory stays flat however well rows compress.
                buffer += decompressor.decompress(data, CHUNK_BYTES)
            except zlib.error:
                raise ArchiveError(f"chunk {index} does not decompress") from None
            data = decompressor.unconsumed_tail
            while len(buffer) >= RECORD.size:
                kind, size = RECORD.unpack_from(buffer)
                if len(buffer) < RECORD.size + size:
                    break
                payload = bytes(buffer[RECORD.size : RECORD.size + size])
                del buffer[: RECORD.size + size]
                if seen_manifest:
                    raise ArchiveError("records follow the manifest")
                seen_manifest = kind == MANIFEST
                yield kind, payload
            if not data:
                break
    if buffer or not decompressor.eof or not seen_manifest:
        raise ArchiveError("the backup is incomplete")


def header_record(name: str, columns: list[str]) -> bytes:
    return json.dumps({"table": name, "columns": columns}).encode()
