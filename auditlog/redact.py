"""Redaction for the access and API-call logs: an allow-list of headers, deny-lists of field
names at any depth (secrets, and personal contact data), card-number-like digit runs masked,
and a size cap that says when it cut.

Personal data is masked, not kept: a customer's or a user's contact fields are encrypted where
they are stored (inventory_customer) or are theirs to change, and the log must not become a
second, plaintext copy. The names are masked at any depth of a JSON body and in query
strings; under `/api/v1/customers/` a customer's `name` is masked too (elsewhere `name` is a
product's, a store's or a role's).
"""

import json
import re
from urllib.parse import parse_qsl, urlencode

from core.charsets import UTF8, declared_charset

REDACTED = "[redacted]"
BODY_LIMIT = 64 * 1024
TRUNCATED_MARK = "…[truncated]"

# Only these request headers are kept; Authorization, Cookie and anything unknown never are.
ALLOWED_HEADERS = (
    "accept",
    "accept-language",
    "content-type",
    "content-length",
    "idempotency-key",
    "origin",
    "referer",
    "user-agent",
)
SECRET_NAMES = frozenset(
    {"key", "pin", "pan", "cvv", "cvc", "code", "codes", "session", "sessionid", "cookie"}
)
SECRET_FRAGMENTS = (
    "password",
    "passwd",
    "token",
    "secret",
    "otp",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "backup_code",
    "authorization",
    "csrf",
    "card_number",
)
PERSONAL = "[personal]"
PERSONAL_NAMES = frozenset({"email", "phone", "full_name", "notes", "customer_email", "customer_phone"})
# On these paths a body or query describes a customer: their `name` (and a search `q`) is personal.
CUSTOMER_PATHS = ("/api/v1/customers/",)
CUSTOMER_NAMES = PERSONAL_NAMES | {"name", "q"}
CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Any fragment anywhere in a name, in one search (a loop over the fragments took twice as long).
_SECRET_FRAGMENT = re.compile("|".join(map(re.escape, SECRET_FRAGMENTS)))


def secret_name(name: str) -> bool:
    normalized = str(name).lower().replace("-", "_")
    return normalized in SECRET_NAMES or _SECRET_FRAGMENT.search(normalized) is not None


# Luhn's digit values, read by bytes.translate in C: a digit as it is, and doubled (its digits summed).
_LUHN_PLAIN = bytes.maketrans(b"0123456789", bytes(range(10)))
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))


def _luhn(digits: str) -> bool:
    if digits.isascii():  # a page of products: ~50 barcodes checked, 1.6 us each one digit at a time
        raw = digits.encode("ascii")[::-1]
        return (sum(raw[::2].translate(_LUHN_PLAIN)) + sum(raw[1::2].translate(_LUHN_DOUBLED))) % 10 == 0
    total = 0  # digits of other scripts, which `\d` also takes
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not _luhn(digits):
        return match.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


# Where a card number can be: a run of at least 13 digits, spaces and hyphens (the shortest the
# pattern takes). Found with bytes.translate and bytes.find, which run in C, instead of the
# pattern trying every digit of the text (a page of 50 products: ~1 ms of a request's CPU).
_RUN_BYTES = bytes(49 if chr(i) in "0123456789 -" else 48 for i in range(256))  # b"1" in a run
_SHORTEST_RUN = b"1" * 13
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _mask_run(run: str) -> str:
    if run.isdecimal():  # digits alone: the pattern takes the whole run if it has 13 to 19
        return "*" * (len(run) - 4) + run[-4:] if len(run) <= 19 and _luhn(run) else run
    return CARD_NUMBER.sub(_mask_card, run)


def mask_card_numbers(text: str) -> str:
    """Card-number-like digit runs (13 to 19 digits, single spaces or hyphens between) that pass
    the Luhn check, masked to their last four digits. The same as CARD_NUMBER.sub(_mask_card)
    (tests/auditlog/test_card_masking.py), with the pattern run only on the runs that could hold
    one; a text with a digit outside ASCII (which `\\d` also matches) takes the pattern whole."""
    if not text.isascii() and any(c.isdecimal() for part in _NON_ASCII.findall(text) for c in part):
        return CARD_NUMBER.sub(_mask_card, text)
    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate (a JSON escape) survives the trip
    marks = raw.translate(_RUN_BYTES)
    start = marks.find(_SHORTEST_RUN)
    if start < 0:
        return text
    pieces, done = [], 0
    while start >= 0:  # `start` begins a run: a window of 13 further left would have been found first
        end = marks.find(b"0", start)
        end = len(raw) if end < 0 else end
        pieces += [raw[done:start], _mask_run(raw[start:end].decode("ascii")).encode("ascii")]
        done = end
        start = marks.find(_SHORTEST_RUN, end)
    pieces.append(raw[done:])
    return b"".join(pieces).decode("utf-8", "surrogatepass")


def personal_names_for(path: str) -> frozenset:
    return CUSTOMER_NAMES if path.startswith(CUSTOMER_PATHS) else PERSONAL_NAMES


def _masked(name, value, personal: frozenset):
    if secret_name(name):
        return REDACTED
    if str(name).lower() in personal and value not in (None, ""):
        return PERSONAL
    return redact_value(value, personal)


def redact_value(value, personal: frozenset = PERSONAL_NAMES):
    """The value with every secret-named and personal field replaced, at any depth."""
    if isinstance(value, dict):
        return {k: _masked(k, v, personal) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(item, personal) for item in value]
    return value


def redact_query(query: str, personal: frozenset = PERSONAL_NAMES) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return mask_card_numbers(urlencode([(k, _masked(k, v, personal) if v else v) for k, v in pairs]))


_SECRET_JSON_PAIR = re.compile(r'"([^"\\]{1,100})"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\]]+)')


def _redact_unparsed(text: str, personal: frozenset = PERSONAL_NAMES) -> str:
    def masked(match: re.Match) -> str:
        name = match.group(1)
        if secret_name(name):
            return f'"{name}":"{REDACTED}"'
        if name.lower() in personal:
            return f'"{name}":"{PERSONAL}"'
        return match.group(0)

    return _SECRET_JSON_PAIR.sub(masked, text)


_JSON_KEY = re.compile(r'"([^"\\]*)"\s*:')
_SPACED_KEY = re.compile(r'"\s+:')  # a key with white space before its colon


def _may_name_a_secret(text: str, personal: frozenset = PERSONAL_NAMES) -> bool:
    """False only when the JSON text surely has no secret-named or personal key: it holds no
    escape (so a string cannot hide a quote or spell a name with \\u escapes, and every `"...":`
    is a key) and none of its keys is such a name. Saves parsing and re-serialising every answer."""
    if "\\" in text:
        return True
    return any(secret_name(key) or key.lower() in personal for key in _keys(text))


def _keys(text: str) -> set[str]:
    """Every `K` of a `"K":` in a text with no backslash (the keys of JSON), or more.

    With no white space before a colon, each piece of the text between two `":` ends in a key:
    what follows the piece's last quote (splitting in C took ~0.08 ms of a page of 50 products,
    the pattern below ~0.2 ms). A piece can be shorter than the pattern's key only by a leading
    `:` (the key `:K`, in the text `":K":`, reads as `K`), which no secret or personal name
    holds, so it never hides one (tests/auditlog/test_redaction_fast_paths.py)."""
    if _SPACED_KEY.search(text):
        return set(_JSON_KEY.findall(text))
    return {piece.rpartition('"')[2] for piece in text.split('":')[:-1]}


# Control characters a body may carry (line breaks and tabs are kept): NUL cannot be stored in
# a text column at all, and none of them may reach a log reader's terminal or page raw.
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escaped(char: str) -> str:
    return f"\\x{ord(char):02x}"


def escape_controls(text: str) -> str:
    """`text` with every control character but line breaks and tabs written as `\\xNN`."""
    return _BODY_CONTROLS.sub(lambda m: _escaped(m.group(0)), text)


def cap(text: str, limit: int = BODY_LIMIT) -> tuple[str, bool]:
    # A lone surrogate (legal as a JSON escape) cannot be stored: it becomes "?".
    encoded = escape_controls(text).encode("utf-8", errors="replace")
    text = encoded.decode("utf-8")
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode(errors="ignore") + TRUNCATED_MARK, True


def redact_body(raw: bytes, content_type: str, personal: frozenset = PERSONAL_NAMES) -> tuple[str, bool]:
    """A body as text fit for the log: redacted, card numbers masked, capped at 64 KiB.

    A body in a charset other than UTF-8 is refused (core.limits) and not shown at all: read as
    UTF-8 its field names would not be found, so nothing in it could be redacted.
    """
    if not raw:
        return "", False
    charset = declared_charset(content_type or "")
    if charset is not None and charset not in UTF8:
        return f"[{len(raw)} bytes in charset {clean(charset, 40)}, not shown]", False
    content_type = (content_type or "").split(";")[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        if len(raw) <= 4 * BODY_LIMIT:
            if not _may_name_a_secret(text, personal):
                pass  # every key is plain, none secret or personal: redacting would change nothing
            else:
                try:
                    text = json.dumps(
                        redact_value(json.loads(text), personal), ensure_ascii=False, separators=(",", ":")
                    )
                except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
                    text = _redact_unparsed(text, personal)
        else:  # too big to parse on the request path: pattern redaction of the part kept
            text, _ = cap(text, BODY_LIMIT * 2)
            text = _redact_unparsed(text, personal)
            return cap(mask_card_numbers(text))[0].removesuffix(TRUNCATED_MARK) + TRUNCATED_MARK, True
    elif content_type == "application/x-www-form-urlencoded":
        text = redact_query(text, personal)
    elif content_type.startswith(("multipart/", "application/octet-stream")) or not content_type.startswith(
        ("text/", "application/")
    ):
        return f"[{len(raw)} bytes of {content_type or 'unknown'}]", False
    else:
        text = _redact_unparsed(text, personal)
    return cap(mask_card_numbers(text))


def allowed_headers(meta) -> dict:
    headers = {}
    for name in ALLOWED_HEADERS:
        key = name.upper().replace("-", "_")
        value = meta.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")
        if value:
            headers[name] = clean(str(value), 500)
    return headers


def clean(text: str, limit: int) -> str:
    """One line, no control characters: a value with CR/LF or NUL stays one entry (log
    injection), each such character written as a visible escape (`\\x0d`, `\\u2028`)."""
    if text.isprintable():  # nearly every value: nothing to escape (a lone surrogate is not printable)
        return text[:limit]
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # no lone surrogate
    return "".join(c if c.isprintable() else _escape_any(c) for c in text)[:limit]


def _escape_any(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
