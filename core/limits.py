"""Refuse request bodies over KASSA_MAX_BODY_BYTES before anything reads them (413 too_large)."""

from django.conf import settings

from core.api import json_error


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return json_error(413, "too_large", "The request body is too large.")
            if length == 0 and request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
                # No length to check up front: read at most the limit, plus one byte to notice more.
                body = request.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
                if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                    return json_error(413, "too_large", "The request body is too large.")
                request._body = body
                request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
