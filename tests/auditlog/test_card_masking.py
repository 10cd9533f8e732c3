"""Card-number masking in the logs: the fast path (runs found in C, the pattern on those alone)
answers exactly what the pattern over the whole text answers, for any text."""

import json
import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditlog.redact import CARD_NUMBER, _mask_card, mask_card_numbers


def reference(text: str) -> str:
    return CARD_NUMBER.sub(_mask_card, text)


# Digits (ASCII and others `\d` matches), the separators, and what sits beside them in JSON.
ALPHABET = "0123456789 -" + 'ax":,{}.' + "äö€" + "٣४" + "\ud800"
runs = st.text(alphabet=ALPHABET, max_size=80)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(runs, st.from_regex(r"[0-9]{12,20}", fullmatch=True)), max_size=6).map("".join))
@example("4111 1111 1111 1111")
@example("4111-1111-1111-1111 ")
@example("card 4111111111111111, again 4111111111111111x")
@example("4111111111111111" + "1" * 10)
@example("\ud800 4111111111111111")
@example("٣4111111111111111")
def test_the_fast_masking_answers_what_the_pattern_answers(text):
    assert mask_card_numbers(text) == reference(text)


def test_a_page_of_products_with_barcodes_is_masked_like_the_pattern_does():
    page = json.dumps(
        {
            "results": [
                {
                    "id": str(uuid.uuid4()),
                    "barcode": f"{4000000000000 + 7919 * i:013d}",
                    "name": f"Kahvi {i} ä",
                }
                for i in range(200)
            ]
        },
        ensure_ascii=False,
    )
    masked = mask_card_numbers(page)
    assert masked == reference(page)
    assert masked != page  # some barcodes pass the Luhn check and are masked, as before
