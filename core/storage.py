"""Object storage for backups and exports: local files or S3, one store per region.

`KASSA_STORAGE_URL` is the store of this deployment's region (`KASSA_REGION`); other regions'
stores are named by `KASSA_STORAGE_URL_<REGION>` (settings.KASSA_STORAGE_URLS), so a purge
can reach every copy. Objects are written only for a tenant of the store's own region, under
the tenant's prefix `tenants/<tenant id>/`, and read and written in chunks, never whole. The
platform's own objects (its audit anchors) live under `platform/`.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone

CHUNK_BYTES = 1024 * 1024
S3_PART_BYTES = 8 * 1024 * 1024  # S3 multipart parts must be at least 5 MiB, except the last


class StorageError(Exception):
    """The storage is misconfigured, or an object is missing."""


class WrongRegion(StorageError):
    """An object of a tenant was to be written to another region's storage."""


PLATFORM_PREFIX = "platform/"


def tenant_prefix(tenant_id) -> str:
    return f"tenants/{tenant_id}/"


class Storage(ABC):
    """put/get in chunks, exists, delete, list by prefix, rename; `put` checks the tenant's region."""

    def __init__(self, *, url: str, region: str):
        self.url = url
        self.region = region

    def __repr__(self):
        return f"<{type(self).__name__} {self.region} {self.url}>"

    def check_writable(self, key: str, tenant) -> None:
        if tenant.region != self.region:
            raise WrongRegion(
                f"tenant {tenant.slug} is in region {tenant.region!r}; this storage serves {self.region!r}"
            )
        if not key.startswith(tenant_prefix(tenant.pk)):
            raise StorageError(f"{key} is not under the tenant's prefix")

    def put(self, key: str, chunks: Iterable[bytes], *, tenant) -> int:
        """Write the object from an iterable of byte chunks; return its size."""
        self.check_writable(key, tenant)
        return self._put(key, chunks)

    def put_once(self, key: str, data: bytes, *, tenant=None) -> bool:
        """Write a small object that must never change (an audit anchor); False if it exists.

        Under a tenant's prefix (`tenant`) or the platform's (`PLATFORM_PREFIX`). On S3 the object
        is also locked for `KASSA_S3_OBJECT_LOCK_DAYS` when set (Object Lock, compliance mode),
        so not even the bucket's owner can change or delete it before then.
        """
        if tenant is not None:
            self.check_writable(key, tenant)
        elif not key.startswith(PLATFORM_PREFIX):
            raise StorageError(f"{key} is under neither a tenant's prefix nor the platform's")
        return self._put_once(key, data)

    @abstractmethod
    def _put_once(self, key: str, data: bytes) -> bool: ...

    def rename(self, source: str, target: str, *, tenant) -> None:
        self.check_writable(target, tenant)
        self._rename(source, target)

    # Backends implement these.
    @abstractmethod
    def _put(self, key: str, chunks: Iterable[bytes]) -> int: ...

    @abstractmethod
    def _rename(self, source: str, target: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> Iterator[bytes]: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]: ...


class FileStorage(Storage):
    def __init__(self, *, url: str, region: str):
        super().__init__(url=url, region=region)
        self.root = Path(urlparse(url).path)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or ".." in Path(key).parts or not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"bad object key {key!r}")
        return path

    def _put(self, key, chunks):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        size = 0
        # A half-written object never appears under its name: write aside, then rename. The
        # aside name starts with the key, so a listing by prefix (and a purge) still finds it.
        descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.partial-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return size

    def _put_once(self, key, data):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            with path.open("xb") as handle:  # exclusive: an existing object is never replaced
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except FileExistsError:
            return False
        path.chmod(0o400)
        return True

    def _rename(self, source, target):
        target_path = self._path(target)
        target_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(self._path(source), target_path)

    def get(self, key):
        path = self._path(key)
        if not path.is_file():
            raise StorageError(f"no object {key}")
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def exists(self, key):
        return self._path(key).is_file()

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix):
        base = self.root.resolve()
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._path(directory) if directory else base
        if not start.is_dir():
            return
        for folder, _, files in os.walk(start):
            for name in sorted(files):
                key = (Path(folder) / name).relative_to(base).as_posix()
                if key.startswith(prefix):
                    yield key


class S3Storage(Storage):
    def __init__(self, *, url: str, region: str):
        super().__init__(url=url, region=region)
        parsed = urlparse(url)
        self.bucket = parsed.netloc
        self.base = parsed.path.strip("/")
        if not self.bucket:
            raise StorageError(f"{url} names no bucket")
        import boto3

        self.client = boto3.client("s3", endpoint_url=settings.KASSA_S3_ENDPOINT_URL or None)
        self.encryption = {"ServerSideEncryption": settings.KASSA_S3_SSE}
        if settings.KASSA_S3_SSE == "aws:kms" and settings.KASSA_S3_KMS_KEY_ID:
            self.encryption["SSEKMSKeyId"] = settings.KASSA_S3_KMS_KEY_ID

    def _key(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base else key

    def _put(self, key, chunks):
        full = self._key(key)
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=full, **self.encryption)
        upload_id, parts, size, buffer = upload["UploadId"], [], 0, bytearray()

        def send(data: bytes) -> None:
            number = len(parts) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": number})

        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= S3_PART_BYTES:
                    send(bytes(buffer))
                    buffer.clear()
            if buffer or not parts:
                send(bytes(buffer))
            # The object appears under its key only now, whole.
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            raise
        return size

    def _put_once(self, key, data):
        from botocore.exceptions import ClientError

        extra = dict(self.encryption)
        if settings.KASSA_S3_OBJECT_LOCK_DAYS:
            extra["ObjectLockMode"] = "COMPLIANCE"
            extra["ObjectLockRetainUntilDate"] = timezone.now() + timedelta(
                days=settings.KASSA_S3_OBJECT_LOCK_DAYS
            )
        try:
            # IfNoneMatch: S3 refuses to overwrite an existing key (412), atomically.
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*", **extra
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
            ):
                return False
            raise
        return True

    def _rename(self, source, target):
        self.client.copy(
            {"Bucket": self.bucket, "Key": self._key(source)},
            self.bucket,
            self._key(target),
            ExtraArgs=self.encryption,
        )
        self.delete(source)

    def get(self, key):
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise StorageError(f"no object {key}") from None
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def exists(self, key):
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix):
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.base) + 1 if self.base else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]


def storage_from_url(url: str, *, region: str) -> Storage:
    scheme = urlparse(url).scheme
    if scheme == "file":
        return FileStorage(url=url, region=region)
    if scheme == "s3":
        return S3Storage(url=url, region=region)
    raise StorageError(f"storage URL {url!r} must start with file:// or s3://")


def storage_urls() -> dict[str, str]:
    """Every configured region's storage URL; this deployment's region from KASSA_STORAGE_URL."""
    return {**settings.KASSA_STORAGE_URLS, settings.KASSA_REGION: settings.KASSA_STORAGE_URL}


def storage_for_region(region: str) -> Storage:
    url = storage_urls().get(region)
    if url is None:
        raise WrongRegion(f"no storage is configured for region {region!r}")
    return storage_from_url(url, region=region)


def storage_for_tenant(tenant) -> Storage:
    """The storage of the tenant's region, which must be the region this deployment serves."""
    if tenant.region != settings.KASSA_REGION:
        raise WrongRegion(
            f"tenant {tenant.slug} is in region {tenant.region!r}; this deployment serves {settings.KASSA_REGION!r}"
        )
    return storage_for_region(tenant.region)


def all_storages() -> list[Storage]:
    return [storage_from_url(url, region=region) for region, url in sorted(storage_urls().items())]
