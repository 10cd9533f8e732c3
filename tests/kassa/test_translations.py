"""Finnish for every page, message and form: a string shown to a user is marked for translation
and has a Finnish translation, and the compiled catalogue is the one the .po file makes.

What is checked:
- every template of the project: text and visible attributes (title, placeholder, aria-label,
  alt, a button's value) outside `{% translate %}`/`{% blocktranslate %}` must be marked;
- every msgid the templates and the code use (`gettext`, `_`, `gettext_lazy`, `ngettext`, ...)
  has a Finnish msgstr in locale/fi/LC_MESSAGES/django.po, or in Django's own Finnish catalogue;
- messages reach users as text given to the exceptions services raise (ValidationError,
  PermissionDenied, the core.errors kinds), to the admin's message_user and the messages
  framework, and as the labels, help texts and action descriptions of forms and the admin:
  those must be gettext calls, never bare strings;
- the committed .mo equals what `python tools/compile_messages.py` makes of the .po.

When a check fails, its message lists what is missing, ready to paste into the .po file (then
run `python tools/compile_messages.py`). Not covered (yet): the verbose names of the models of
the first-wave apps (they are English in the admin's column headers; marking them changes every
model's migration state, left for after the second wave merges); management commands' output;
the OpenAPI schema's descriptions (help texts and parameter descriptions in apis.py,
serializers.py, core/schema.py and inventory/delta.py, for integrators); DRF's own texts;
e-mails (Kassa sends users none: alerts go to operators).
"""

import ast
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "fi" / "LC_MESSAGES" / "django.po"
PACKAGES = ["kassa", "core", "tenants", "idempotency", "accounts", "auditlog", "integrations", "inventory", "backoffice", "exports", "lifecycle", "reports", "pos", "web"]  # fmt: skip
GETTEXT = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy", "npgettext"}  # fmt: skip
# Exceptions whose text a user reads (the API's error detail, a form error, the register's alert).
USER_FACING_ERRORS = {"ValidationError", "PermissionDenied", "DomainError", "NotFound", "Forbidden", "Conflict", "Gone", "Unprocessable", "InsufficientStock"}  # fmt: skip
# Errors only operators read (backups, restores, imports: the commands' output, in English).
OPERATOR_ERRORS = {"LifecycleError", "ExportError"}
MESSAGE_CALLS = {"message_user", "success", "error", "warning", "info", "add_message", "add_error"}
LABEL_KEYWORDS = {
    "description",
    "label",
    "help_text",
    "verbose_name",
    "verbose_name_plural",
    "search_help_text",
}
# Text that reads the same in Finnish (names, codes, symbols).
SAME_IN_FINNISH = {"Kassa", "SKU", "CSV", "Suomi", "English", "OTP", "TOTP", "API", "MFA", "ID", "IP", "PO"}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}

compile_messages_spec = importlib.util.spec_from_file_location(
    "compile_messages", ROOT / "tools" / "compile_messages.py"
)
compile_messages = importlib.util.module_from_spec(compile_messages_spec)
compile_messages_spec.loader.exec_module(compile_messages)


def project_files(pattern: str) -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob(pattern):
            if "migrations" not in path.parts and "management" not in path.parts:
                found.append(path)
    return sorted(found)


def templates() -> list[Path]:
    return [path for path in project_files("*.html") if "templates" in path.parts]


# --- what the templates and the code ask to translate -------------------------------------------------


_QUOTED = r"u?'(?:[^'\\]|\\.)*'"
_TEMPLATE_CALL = re.compile(rf"\b(n?p?gettext)\(\s*({_QUOTED}(?:\s*,\s*{_QUOTED})*)")


def _calls_in_templatized(source: str):
    """(function name, [string arguments], line) of every gettext call in `templatize`'s output."""
    for match in _TEMPLATE_CALL.finditer(source):
        strings = [ast.literal_eval(quoted) for quoted in re.findall(_QUOTED, match.group(2))]
        yield match.group(1), strings, source.count("\n", 0, match.start()) + 1


def _msgids_of(name: str, strings: list[str]) -> list[tuple]:
    if name in ("pgettext", "pgettext_lazy"):
        return [(strings[0], strings[1])] if len(strings) >= 2 else []
    if name == "npgettext":
        return [(strings[0], strings[1], strings[2])] if len(strings) >= 3 else []
    if name in ("ngettext", "ngettext_lazy"):
        return [(None, strings[0], strings[1])] if len(strings) >= 2 else []
    return [(None, strings[0])] if strings else []


def template_msgids() -> dict[tuple, str]:
    found = {}
    for path in templates():
        for name, strings, line in _calls_in_templatized(
            templatize(path.read_text(encoding="utf-8"), origin=str(path))
        ):
            for msgid in _msgids_of(name, strings):
                found.setdefault(msgid, f"{path.relative_to(ROOT)}:{line}")
    return found


def code_msgids() -> dict[tuple, str]:
    found = {}
    for path in project_files("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.id
                if isinstance(node.func, ast.Name)
                else node.func.attr
                if isinstance(node.func, ast.Attribute)
                else ""
            )
            if name not in GETTEXT:
                continue
            strings = [
                arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
            for msgid in _msgids_of(name, strings):
                found.setdefault(msgid, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def finnish(msgid: tuple, ours: dict) -> bool:
    context, *texts = msgid
    prefix = f"{context}\x04" if context else ""
    if len(texts) == 2:
        if all((prefix + texts[0], n) in ours for n in (0, 1)):
            return True
        with translation.override("fi"):
            return translation.ngettext(texts[0], texts[1], 2) != texts[1]
    if ours.get(prefix + texts[0]):
        return True
    with translation.override("fi"):  # Django's own catalogue (the admin's words)
        found = translation.pgettext(context, texts[0]) if context else translation.gettext(texts[0])
    return found != texts[0]


def _po_entry(msgid: tuple) -> str:
    context, *texts = msgid

    def quoted(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"msgctxt {quoted(context)}"] if context else []
    lines.append(f"msgid {quoted(texts[0])}")
    if len(texts) == 2:
        lines += [f"msgid_plural {quoted(texts[1])}", 'msgstr[0] ""', 'msgstr[1] ""']
    else:
        lines.append('msgstr ""')
    return "\n".join(lines)


def test_every_string_the_templates_and_the_code_ask_for_has_a_finnish_translation():
    ours = compile_messages.catalogue(PO)
    wanted = {**template_msgids(), **code_msgids()}
    assert len(wanted) > 400  # the scan finds the strings (not a vacuous pass)
    missing = {msgid: where for msgid, where in wanted.items() if not finnish(msgid, ours)}
    assert not missing, (
        f"{len(missing)} strings have no Finnish translation; add to {PO.relative_to(ROOT)} "
        "and run python tools/compile_messages.py:\n\n"
        + "\n\n".join(
            f"#: {where}\n{_po_entry(msgid)}" for msgid, where in sorted(missing.items(), key=lambda i: i[1])
        )
    )


def test_the_compiled_catalogue_is_the_po_files():
    assert compile_messages.mo_catalogue(PO.with_suffix(".mo")) == compile_messages.catalogue(PO), (
        "locale/fi/LC_MESSAGES/django.mo is out of date: run python tools/compile_messages.py"
    )


def test_the_po_file_has_no_duplicates_and_keeps_the_placeholders():
    seen, problems = set(), []
    for entry in compile_messages.po_entries(PO):
        key = (entry.get("msgctxt"), entry["msgid"])
        if key in seen:
            problems.append(f"twice: {entry['msgid']!r}")
        seen.add(key)
        if not entry["msgid"]:
            continue
        wanted = sorted(re.findall(r"%\(\w+\)[sd]|%[sd]|\{\{ ?\w+ ?\}\}", entry["msgid"]))
        for key in entry:
            if key.startswith("msgstr") and entry[key]:
                found = sorted(re.findall(r"%\(\w+\)[sd]|%[sd]|\{\{ ?\w+ ?\}\}", entry[key]))
                if "msgid_plural" not in entry and found != wanted:
                    problems.append(f"placeholders differ in {entry['msgid']!r}: {wanted} / {found}")
    assert not problems, "\n".join(problems)


# --- text that is not marked at all ---------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text of a page a user sees: data and visible attribute values, with their lines
    (code and keyboard keys excepted: commands and keys are not translated)."""

    UNSEEN = {"script", "style", "code", "kbd"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[tuple[int, str]] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.UNSEEN:
            self.hidden += 1
        values = dict(attrs)
        for name, value in attrs:
            if value and (
                name in VISIBLE_ATTRIBUTES
                # an input button shows its value; a <button>'s value is data (a dialog's returnValue)
                or (name == "value" and tag == "input" and values.get("type") in ("submit", "button"))
            ):
                self.texts.append((self.getpos()[0], value))

    def handle_endtag(self, tag):
        if tag in self.UNSEEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.texts.append((self.getpos()[0], data))


def _needs_translation(text: str) -> bool:
    if re.fullmatch(r"\s*[a-z_]+[._][a-z_.]+\s*", text):
        return False  # an identifier (inventory.sale), an example of what to type
    words = re.findall(r"[^\W\d_]{2,}", text)
    same = {word.lower() for word in SAME_IN_FINNISH}
    return bool(words) and not all(word.lower() in same for word in words)


MARK = "\u2002"  # stands for a variable or a translated text: no letters
# Blocks whose content goes into an attribute or the page's head, never shown as text.
UNSHOWN_BLOCKS = {"main_class", "body_class", "bodyclass", "head", "extrahead", "extrastyle", "scripts"}


def _skeleton(source: str) -> str:
    """The template's HTML with every tag and variable replaced by a mark and every translated
    or commented block taken out, lines kept."""
    parts, inside, blocks = [], None, []
    for token in Lexer(source).tokenize():
        text = token.contents
        lines = "\n" * (text.count("\n"))
        if token.token_type == TokenType.BLOCK:
            name = text.split()[0] if text else ""
            if name == "block":
                blocks.append(text.split()[1] if len(text.split()) > 1 else "")
            elif name == "endblock" and blocks:
                blocks.pop()
            if name in ("blocktranslate", "blocktrans", "comment"):
                inside = name
                parts.append(MARK + lines)
            elif name in ("endblocktranslate", "endblocktrans", "endcomment"):
                inside = None
            else:
                parts.append((MARK if name in ("translate", "trans") else "") + lines)
        elif token.token_type == TokenType.VAR:
            parts.append(MARK + lines)
        elif token.token_type == TokenType.COMMENT:
            parts.append(lines)
        else:
            unshown = inside or any(block in UNSHOWN_BLOCKS for block in blocks)
            parts.append(re.sub(r"[^\n]", " ", text) if unshown else text)
    return "".join(parts)


def unmarked_template_text() -> list[str]:
    found = []
    for path in templates():
        parser = _VisibleText()
        parser.feed(_skeleton(path.read_text(encoding="utf-8")))
        parser.close()
        for line, text in parser.texts:
            if _needs_translation(text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {' '.join(text.split())[:80]!r}")
    return found


def test_no_template_shows_text_outside_a_translation_tag():
    found = unmarked_template_text()
    assert not found, "text in templates not marked for translation ({% translate %} it):\n" + "\n".join(
        found
    )


def _literal(node) -> bool:
    """A string a user would read, written as it is (not a gettext call)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _needs_translation(node.value)
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and _needs_translation(str(v.value)) for v in node.values)
    if isinstance(node, ast.BinOp):  # "text %s" % value, "a" + "b"
        return _literal(node.left)
    if isinstance(node, ast.Dict):
        return any(_literal(value) for value in node.values if value is not None)
    if isinstance(node, ast.List | ast.Tuple):
        return any(_literal(value) for value in node.elts)
    return False


def user_facing_errors() -> set[str]:
    """USER_FACING_ERRORS and the project's own subclasses of them (ShiftClosed, DiscountAboveLimit, ...)."""
    bases = {}
    for path in project_files("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    base.id if isinstance(base, ast.Name) else base.attr
                    for base in node.bases
                    if isinstance(base, ast.Name | ast.Attribute)
                )
    errors = set(USER_FACING_ERRORS)
    while more := {
        name for name, of in bases.items() if name not in errors | OPERATOR_ERRORS and of & errors
    }:
        errors |= more
    return errors


def unmarked_code_text() -> list[str]:
    found = []
    errors = user_facing_errors()
    for path in project_files("*.py"):
        if path.name == "models.py":
            continue  # model verbose names: see the module's docstring
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.id
                if isinstance(node.func, ast.Name)
                else node.func.attr
                if isinstance(node.func, ast.Attribute)
                else ""
            )
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in errors and node.args and _literal(node.args[0]):
                found.append(f"{where}: {name}({ast.unparse(node.args[0])[:70]})")
            if name in MESSAGE_CALLS and len(node.args) >= 2 and _literal(node.args[1]):
                found.append(f"{where}: {name}(..., {ast.unparse(node.args[1])[:70]})")
            api_docs = path.name in (
                "apis.py",
                "serializers.py",
                "decorator.py",
                "schema.py",
                "delta.py",
            )  # the schema's, for integrators
            for keyword in node.keywords:
                if (
                    keyword.arg in LABEL_KEYWORDS
                    and _literal(keyword.value)
                    and not (api_docs and keyword.arg in ("help_text", "description"))
                ):
                    found.append(f"{where}: {keyword.arg}={ast.unparse(keyword.value)[:70]}")
                if keyword.arg in ("message", "read_message", "write_message") and _literal(keyword.value):
                    found.append(f"{where}: {keyword.arg}={ast.unparse(keyword.value)[:70]}")
    return found


def test_messages_users_read_are_marked_for_translation():
    found = unmarked_code_text()
    assert not found, "user-facing text written as a bare string (wrap it in gettext):\n" + "\n".join(found)
