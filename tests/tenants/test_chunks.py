"""The stored layout of encrypted chunks (backups and exports) stays readable.

`layout_frames` and `layout_read` write and read the layout as it was specified and stored
before tenants.chunks (exports/container.py and lifecycle/archive.py): 4-byte big-endian
length, then `crypto.encrypt(chunk, purpose="<kind>:<id>:chunk:<n>:<final|more>")`, every
chunk but the last of exactly 1 MiB. They do not use tenants.chunks, so these tests fail if
its byte format or associated data drifts from what is already stored.
"""

import os
import struct
import uuid

import pytest

from tenants import chunks, crypto
from tenants.context import tenant_context

MIB = 1024 * 1024


def layout_frames(plaintext: bytes, *, tenant, kind: str, object_id) -> list[bytes]:
    pieces = [plaintext[i : i + MIB] for i in range(0, len(plaintext), MIB)] or [b""]
    frames = []
    with tenant_context(tenant):
        for index, piece in enumerate(pieces):
            state = "final" if index == len(pieces) - 1 else "more"
            blob = crypto.encrypt(piece, purpose=f"{kind}:{object_id}:chunk:{index}:{state}")
            frames.append(struct.pack(">I", len(blob)) + blob)
    return frames


def layout_read(stored: bytes, *, tenant, kind: str, object_id) -> list[bytes]:
    blobs, offset = [], 0
    while offset < len(stored):
        (size,) = struct.unpack_from(">I", stored, offset)
        blobs.append(stored[offset + 4 : offset + 4 + size])
        offset += 4 + size
    assert offset == len(stored)
    with tenant_context(tenant):
        return [
            crypto.decrypt(
                blob,
                purpose=f"{kind}:{object_id}:chunk:{index}:{'final' if index == len(blobs) - 1 else 'more'}",
            )
            for index, blob in enumerate(blobs)
        ]


@pytest.mark.parametrize("size", [0, 1, MIB, MIB + 1, 2 * MIB + 5])
def test_sealed_chunks_have_the_stored_layout(tenant_a, size):
    plaintext = os.urandom(size)
    object_id = uuid.uuid4()
    # Pieces that do not line up with the chunks.
    pieces = [plaintext[i : i + 300_000] for i in range(0, size, 300_000)]

    stored = b"".join(chunks.seal(pieces, tenant=tenant_a, kind="export", object_id=object_id))

    read = layout_read(stored, tenant=tenant_a, kind="export", object_id=object_id)
    assert b"".join(read) == plaintext
    assert [len(c) for c in read[:-1]] == [MIB] * (len(read) - 1)
    assert len(read) == max(1, -(-size // MIB))


@pytest.mark.parametrize("kind", ["export", "backup"])
def test_chunks_stored_in_the_old_layout_unseal(tenant_a, kind):
    plaintext = os.urandom(2 * MIB + 17)
    object_id = uuid.uuid4()
    stored = layout_frames(plaintext, tenant=tenant_a, kind=kind, object_id=object_id)

    # Split the stored bytes anywhere, as a storage backend may.
    joined = b"".join(stored)
    pieces = [joined[i : i + 70_000] for i in range(0, len(joined), 70_000)]
    assert b"".join(chunks.unseal(pieces, tenant=tenant_a, kind=kind, object_id=object_id)) == plaintext


def test_a_sealer_fed_record_by_record_makes_the_same_chunks(tenant_a):
    plaintext = os.urandom(MIB + 3)
    sealer = chunks.Sealer(tenant=tenant_a, kind="backup", object_id="b1")
    stored = []
    for i in range(0, len(plaintext), 1000):
        sealer.write(plaintext[i : i + 1000])
        stored += sealer.take()
    assert len(stored) == 1  # the first chunk went out as soon as more followed it
    sealer.close()
    stored += sealer.take()

    read = layout_read(b"".join(stored), tenant=tenant_a, kind="backup", object_id="b1")
    assert [len(c) for c in read] == [MIB, 3] and b"".join(read) == plaintext


def test_moved_dropped_foreign_or_cut_chunks_are_refused(tenant_a, tenant_b):
    object_id = uuid.uuid4()
    frames = layout_frames(os.urandom(2 * MIB + 1), tenant=tenant_a, kind="export", object_id=object_id)

    def unseal(stored, *, tenant=tenant_a, kind="export", object_id=object_id):
        return b"".join(chunks.unseal(stored, tenant=tenant, kind=kind, object_id=object_id))

    with pytest.raises(chunks.ChunkError, match="chunk 0 does not decrypt"):
        unseal([frames[1], frames[0], frames[2]])
    with pytest.raises(chunks.ChunkError, match="chunk 1 does not decrypt"):
        unseal(frames[:2])  # the last one dropped: chunk 1 was not sealed as the last
    with pytest.raises(chunks.ChunkError, match="does not decrypt"):
        unseal(frames, kind="backup")
    with pytest.raises(chunks.ChunkError, match="does not decrypt"):
        unseal(frames, object_id=uuid.uuid4())
    with pytest.raises(chunks.ChunkError, match="does not decrypt"):
        unseal(frames, tenant=tenant_b)
    with pytest.raises(chunks.ChunkError, match="the export ends in the middle of a chunk"):
        unseal([b"".join(frames)[:-1]])
    with pytest.raises(chunks.ChunkError, match="the backup is empty"):
        unseal([], kind="backup")
