#!/usr/bin/env python3
"""Compile locale/*/LC_MESSAGES/django.po into django.mo, in pure Python (no gettext tools needed).

    python tools/compile_messages.py          # every language under locale/
    python tools/compile_messages.py --check  # exit 1 if a committed .mo differs from its .po

Fuzzy and untranslated entries are left out, as msgfmt does. tests/kassa/test_translations.py
reads the catalogue with the same parser.
"""

from __future__ import annotations

import ast
import gettext
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: {"msgctxt"?, "msgid", "msgid_plural"?, "msgstr" | "msgstr[n]", "fuzzy"}."""
    entries: list[dict] = []
    entry: dict = {}
    key = None
    fuzzy = False

    def finish():
        nonlocal entry, fuzzy
        if "msgid" in entry:
            entry["fuzzy"] = fuzzy
            entries.append(entry)
        entry, fuzzy = {}, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            key = None
            continue
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if key is None:
                raise ValueError(f"{path}:{number}: a string continues nothing")
            entry[key] += ast.literal_eval(line)
            continue
        name, _space, value = line.partition(" ")
        if name in ("msgctxt", "msgid") and name in entry and "msgstr" in "".join(entry):
            finish()
        if not (name in ("msgctxt", "msgid", "msgid_plural", "msgstr") or name.startswith("msgstr[")):
            raise ValueError(f"{path}:{number}: cannot read {line!r}")
        key = name
        entry[key] = ast.literal_eval(value)
    finish()
    return entries


def catalogue(path: Path) -> dict:
    """msgid (with its context, and (msgid, n) for plurals) -> translation, as gettext looks them up."""
    found: dict = {}
    for entry in po_entries(path):
        if entry["fuzzy"] and entry["msgid"]:
            continue
        context = entry["msgctxt"] + "\x04" if "msgctxt" in entry else ""
        if "msgid_plural" in entry:
            forms = [entry[k] for k in sorted(k for k in entry if k.startswith("msgstr["))]
            if all(forms):
                for index, form in enumerate(forms):
                    found[(context + entry["msgid"], index)] = form
        elif entry.get("msgstr") or not entry["msgid"]:
            found[context + entry["msgid"]] = entry.get("msgstr", "")
    return found


def mo_bytes(path: Path) -> bytes:
    """The .mo file of a .po file (GNU format, little-endian, no hash table)."""
    pairs: dict[bytes, bytes] = {}
    for entry in po_entries(path):
        if entry["fuzzy"] and entry["msgid"]:
            continue
        context = (entry["msgctxt"] + "\x04") if "msgctxt" in entry else ""
        if "msgid_plural" in entry:
            forms = [entry[k] for k in sorted(k for k in entry if k.startswith("msgstr["))]
            if not all(forms):
                continue
            key = context + entry["msgid"] + "\0" + entry["msgid_plural"]
            value = "\0".join(forms)
        else:
            if not entry.get("msgstr") and entry["msgid"]:
                continue
            key, value = context + entry["msgid"], entry.get("msgstr", "")
        pairs[key.encode("utf-8")] = value.encode("utf-8")
    keys = sorted(pairs)
    start = 7 * 4
    originals_at, translations_at = start, start + len(keys) * 8
    data_at = translations_at + len(keys) * 8
    originals, translations, data = [], [], b""
    for key in keys:
        originals.append((len(key), data_at + len(data)))
        data += key + b"\0"
    for key in keys:
        value = pairs[key]
        translations.append((len(value), data_at + len(data)))
        data += value + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), originals_at, translations_at, 0, data_at)
    tables = b"".join(struct.pack("<2I", *pair) for pair in originals + translations)
    return header + tables + data


def mo_catalogue(path: Path) -> dict:
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for po in sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po")):
        mo = po.with_suffix(".mo")
        if check:
            if not mo.exists() or mo_catalogue(mo) != catalogue(po):
                stale.append(str(mo.relative_to(ROOT)))
            continue
        mo.write_bytes(mo_bytes(po))
        print(f"compiled {mo.relative_to(ROOT)} ({len(catalogue(po)) - 1} messages)")
    if stale:
        print("out of date, run python tools/compile_messages.py: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
