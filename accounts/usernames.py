"""Usernames: one spelling per name, and no name that passes for another.

- Normalised to NFKC at creation and at every sign-in, so compatibility forms (the long s
  U+017F, full-width letters, ligatures) become the plain letters they stand for and sign in
  as them.
- At creation a username must be 1 to 150 characters of letters, combining marks, ASCII digits
  and `. _ @ + -`; every letter from one script (Latin, Cyrillic, Greek, ...: "sam" with a
  Cyrillic a, U+0430, is refused); and a name in another script made only of letters that
  look Latin (a Cyrillic "copa") is refused too. The look-alikes are a small table of Cyrillic
  and Greek letters, not all of Unicode's confusables (UTS #39).
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 150
PUNCTUATION = frozenset("._@+-")
# Cyrillic and Greek letters that look like Latin ones, by their Unicode names.
_LOOKALIKE_NAMES = {
    "CYRILLIC SMALL LETTER": "A IE O ER ES U HA BYELORUSSIAN-UKRAINIAN_I JE DZE SHHA PALOCHKA KOMI_DE QA WE STRAIGHT_U KA",
    "CYRILLIC CAPITAL LETTER": "A VE IE KA EM EN O ER ES TE HA BYELORUSSIAN-UKRAINIAN_I JE DZE STRAIGHT_U WE",
    "GREEK SMALL LETTER": "ALPHA EPSILON IOTA KAPPA NU OMICRON RHO TAU UPSILON CHI",
    "GREEK CAPITAL LETTER": "ALPHA BETA EPSILON ZETA ETA IOTA KAPPA MU NU OMICRON RHO TAU UPSILON CHI",
}
LATIN_LOOKALIKES = frozenset(
    unicodedata.lookup(f"{prefix} {letter.replace('_', ' ')}")
    for prefix, letters in _LOOKALIKE_NAMES.items()
    for letter in letters.split()
)


def username_normalize(raw: str) -> str:
    """The one spelling of a typed username (NFKC); a NUL, which no username holds, becomes U+FFFD
    so the lookup can run (PostgreSQL text cannot hold NUL) and finds nobody."""
    return unicodedata.normalize("NFKC", raw.replace("\x00", "\ufffd")).strip()


def _script(char: str) -> str:
    # Unicode character names start with the script for letters ("LATIN SMALL LETTER A",
    # "CYRILLIC SMALL LETTER A", "CJK UNIFIED IDEOGRAPH-4E00", "HIRAGANA LETTER A").
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def username_problem(name: str) -> str | None:
    """Why `name` (already normalised) may not be a username, or None."""
    if not name or len(name) > MAX_LENGTH:
        return f"Use 1 to {MAX_LENGTH} characters."
    if unicodedata.normalize("NFKC", name) != name:
        return "Use the plain form of each letter."
    scripts = set()
    for char in name:
        category = unicodedata.category(char)
        if char in PUNCTUATION or ("0" <= char <= "9"):
            continue
        if category.startswith("M"):
            continue  # combining marks belong to the letter before them
        if not category.startswith("L"):
            return "Use letters, digits 0-9 and . _ @ + - only."
        scripts.add(_script(char))
    if len(scripts) > 1:
        return "Use letters of one script only (" + ", ".join(sorted(s.title() for s in scripts)) + ")."
    letters = [c for c in name if unicodedata.category(c).startswith("L")]
    if scripts and scripts != {"LATIN"} and all(c in LATIN_LOOKALIKES for c in letters):
        return "This name looks like a Latin one; use Latin letters or a distinct name."
    return None
