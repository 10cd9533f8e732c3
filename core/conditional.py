"""`ETag` on object reads and `If-Match` on writes (412 `precondition_failed` when stale).

The tag is a digest of the object's representation as the API shows it, so it changes exactly
when what a client read has changed. A write with `If-Match` compares it with the current
representation under the row's lock, so two clients that read the same version cannot both
write: the second gets 412 and nothing changes.
"""

from __future__ import annotations

import hashlib
import json

from core.errors import PreconditionFailed


def etag_of(data) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def if_match_check(request, current_data) -> None:
    """Refuse the write (412) when `If-Match` is given and names no current version."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags or etag_of(current_data) in tags:
        return
    raise PreconditionFailed()


def not_modified(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    return header is not None and (etag in _tags(header) or "*" in _tags(header))


def with_etag(request, response):
    """Set the response's ETag from its data; a matching `If-None-Match` turns it into a 304."""
    tag = etag_of(response.data)
    if request.method in ("GET", "HEAD") and not_modified(request, tag):
        response.status_code = 304
        response.data = None
    response["ETag"] = tag
    return response
