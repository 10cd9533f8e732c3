"""What an API request body must be before anything reads it: at most KASSA_MAX_BODY_BYTES
(413 `too_large`) and UTF-8 (another declared charset: 415 `unsupported_charset`; bytes that
are not UTF-8: 400 `invalid`).

UTF-8 only, because every layer must read the body the same way: a parser that honoured
`charset=utf-16` while the log read UTF-8 could act on a body the log cannot show (or show
one secret unredacted, with `charset=utf-7`). Both are refused before the view runs; the refusal is logged
like any answer.
"""

from django.conf import settings

from core.api import json_error
from core.charsets import UTF8, declared_charset


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
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
                length = len(body)
            if length:
                charset = declared_charset(request.META.get("CONTENT_TYPE", ""))
                if charset is not None and charset not in UTF8:
                    return json_error(415, "unsupported_charset", "Request bodies must be UTF-8.")
                if not self._utf8(request):
                    return json_error(400, "invalid", "The request body is not valid UTF-8.")
        return self.get_response(request)

    @staticmethod
    def _utf8(request) -> bool:
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        except Exception:  # unreadable here (already streamed): the parser will answer
            return True
        return True
