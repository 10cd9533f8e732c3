"""The backup file: records, compressed, stored as a tenant's encrypted chunks (tenants.chunks).

Records (before compression): one type byte, a 4-byte length, the payload. `H` starts a table
(JSON: name, columns), `D` holds rows in PostgreSQL's COPY text format, `E` ends the table, and
the last record `M` is the manifest. The compressed stream is stored with `tenants.chunks`
(kind "backup"): chunks of at most CHUNK_BYTES whose associated data names the tenant, the
backup, the chunk's index and whether it is the last, so a chunk that is altered, moved,
dropped, or taken from another backup or tenant fails to decrypt.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator

from tenants import chunks

CHUNK_BYTES = chunks.CHUNK_BYTES
COMPRESSION_LEVEL = 3
RECORD = struct.Struct(">cI")
HEADER, DATA, END, MANIFEST = b"H", b"D", b"E", b"M"
CIPHER = "AES-256-GCM"
COMPRESSION = "zlib"
KIND = "backup"  # the chunks' associated data: backup:<backup id>:chunk:<n>:<final|more>


class ArchiveError(chunks.ChunkError):
    """The backup is damaged, incomplete, or cannot be decrypted with this tenant's key."""


class ArchiveWriter:
    """Turn records into encrypted chunks; `take()` returns the bytes to store as they are ready."""

    def __init__(self, *, tenant, backup_id):
        self.compressor = zlib.compressobj(COMPRESSION_LEVEL)
        self.sealer = chunks.Sealer(tenant=tenant, kind=KIND, object_id=backup_id)

    def record(self, kind: bytes, payload: bytes) -> None:
        self.sealer.write(self.compressor.compress(RECORD.pack(kind, len(payload))))
        self.sealer.write(self.compressor.compress(payload))

    def close(self) -> None:
        self.sealer.write(self.compressor.flush())
        self.sealer.close()

    def take(self) -> list[bytes]:
        return self.sealer.take()


def _decrypted(stored: Iterable[bytes], *, tenant, backup_id) -> Iterator[bytes]:
    try:
        yield from chunks.unseal(stored, tenant=tenant, kind=KIND, object_id=backup_id)
    except chunks.ChunkError as error:
        raise ArchiveError(str(error)) from None


def read_records(stored: Iterable[bytes], *, tenant, backup_id) -> Iterator[tuple[bytes, bytes]]:
    """Decrypt, decompress and yield (kind, payload) records; raise ArchiveError on any damage."""
    decompressor = zlib.decompressobj()
    buffer = bytearray()
    seen_manifest = False
    for index, data in enumerate(_decrypted(stored, tenant=tenant, backup_id=backup_id)):
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
