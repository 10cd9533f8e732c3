"""The log redaction's fast paths answer what the plain ways answer, for any text: the keys of a
body read by splitting (against the pattern), Luhn's check by bytes.translate (against the
sum as Luhn defined it), `clean` of a printable value (against the escaping loop), and a
secret name's fragments found by one search (against looking for each)."""

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditlog import redact
from auditlog.redact import _JSON_KEY, PERSONAL_NAMES, _keys, _luhn, _may_name_a_secret, clean, secret_name


def keys_by_pattern(text: str) -> set[str]:
    return set(_JSON_KEY.findall(text))


def may_name_a_secret_by_pattern(text: str, personal=PERSONAL_NAMES) -> bool:
    if "\\" in text:
        return True
    return any(secret_name(key) or key.lower() in personal for key in keys_by_pattern(text))


# Quotes, colons and white space in every order (Unicode white space too, which `\s` takes),
# around names that are secret or personal in some case and spelling, and plain ones.
NAMES = ["token", "Pass-Word", "key", "KEY", "pin", "email", "E-mail", "full_name", "price", "sku", "otp"]
PIECES = st.one_of(
    st.sampled_from(['"', ":", '":', '" :', '"\u2003:', ",", "{", "}", "[", " ", "\n"]),
    st.sampled_from(NAMES),
    st.text(alphabet='ab:" \u00a0-_İK', max_size=6),
)
texts = st.lists(PIECES, max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(texts)
@example('""password":1')
@example('"a":b":')
@example('":key":1')
@example('{"token" :1}')
@example('{"tok\u2003":1,"x"\u2003:2}')
def test_the_keys_read_by_splitting_never_miss_a_name_the_pattern_finds(text):
    if "\\" in text:
        return  # a text with an escape is always parsed (or redacted by pattern) whole
    if may_name_a_secret_by_pattern(text):
        assert _may_name_a_secret(text)
    # What the split reads beyond the pattern's keys is a key less a leading ":" or a piece of
    # a text that is not JSON; every key of the pattern is there, or it with its ":" taken off.
    found = _keys(text)
    for key in keys_by_pattern(text):
        assert key in found or (key.startswith(":") and key[1:] in found)


# No ":" in a key or a value: then the pieces are exactly the keys (a ":" after a quote inside
# a value makes more pieces, which the test above holds to never missing a key).
json_keys = st.one_of(st.sampled_from(NAMES), st.text(alphabet="abcdefgh_-İ ", max_size=8))
documents = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(alphabet="abc {}[],", max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(json_keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(documents, st.sampled_from([(",", ":"), (", ", ": ")]))
def test_the_keys_of_a_json_answer_are_read_exactly(document, separators):
    text = json.dumps(document, ensure_ascii=False, separators=separators)
    if "\\" in text:
        return
    assert _keys(text) == keys_by_pattern(text)
    assert _may_name_a_secret(text) == may_name_a_secret_by_pattern(text)


def test_a_page_of_products_names_no_secret_and_a_token_anywhere_in_it_is_found():
    product = {"id": "1", "sku": "SKU-1", "barcode": "4000000009400", "name": "Coffee", "price": "2.50"}
    page = json.dumps({"count": 2, "next": None, "results": [product, product]}, separators=(",", ":"))
    assert not _may_name_a_secret(page)
    assert _may_name_a_secret(page.replace('"name"', '"Api-Token"'))
    assert _may_name_a_secret(page.replace('"name"', '"email"'))
    assert _may_name_a_secret(page.replace('"name":', '"pin" :'))  # white space before the colon


def luhn_by_definition(digits: str) -> bool:
    """Luhn as it is defined: from the right, every second digit doubled and its digits summed."""
    kept = sum(int(char) for char in digits[::-1][::2])
    doubled = sum(sum(divmod(2 * int(char), 10)) for char in digits[::-1][1::2])
    return (kept + doubled) % 10 == 0


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.from_regex(r"[0-9]{1,25}", fullmatch=True), st.text(alphabet="0123456789٣४", min_size=1)))
@example("4111111111111111")
@example("4111111111111112")
def test_luhn_by_translate_is_luhn(digits):
    assert _luhn(digits) == luhn_by_definition(digits)


def clean_by_loop(text: str, limit: int) -> str:
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return "".join(c if c.isprintable() else redact._escape_any(c) for c in text)[:limit]


@settings(max_examples=2000, deadline=None)
@given(st.text(), st.integers(min_value=0, max_value=50))
@example("Mozilla/5.0 (X11)", 500)
@example("a\r\nb", 10)
@example("\ud800x", 10)
@example("\u2028", 10)
def test_clean_of_a_printable_value_is_the_escaping_loop(text, limit):
    assert clean(text, limit) == clean_by_loop(text, limit)


names = st.lists(st.one_of(st.sampled_from(redact.SECRET_FRAGMENTS), st.text(max_size=4)), max_size=5)


@settings(max_examples=3000, deadline=None)
@given(names.map("".join))
@example("ACCESS-KEY")
@example("x_csr_f")
@example("OTPAuth")
def test_one_search_finds_a_secret_fragment_wherever_a_look_for_each_does(name):
    normalized = name.lower().replace("-", "_")
    by_each = normalized in redact.SECRET_NAMES or any(f in normalized for f in redact.SECRET_FRAGMENTS)
    assert secret_name(name) is by_each
