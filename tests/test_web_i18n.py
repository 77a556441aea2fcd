"""The French catalog covers every text of the dashboard, and the compiled catalog the app loads
is the one its .po describes."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from statsservice.web.i18n import LANGUAGES, TRANSLATIONS

WEB = Path(__file__).resolve().parent.parent / "statsservice" / "web"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def test_every_text_is_translated_in_every_language():
    messages = source_messages()
    assert len(messages) > 50  # the extraction found the dashboard's texts
    for language in LANGUAGES[1:]:
        po = catalog(language)
        missing = sorted(m for m in messages if not (po.get(m) and po.get(m).string) or po.get(m).fuzzy)
        assert not missing, (
            f"{language}: untranslated {missing[:10]} (run statsservice/web/assets/translations.sh)"
        )


def test_compiled_catalogs_match_their_sources():
    for language in LANGUAGES[1:]:
        po = catalog(language)
        with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as fh:
            mo = read_mo(fh)
        source = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
        compiled = {m.id: m.string for m in mo if m.id}
        assert compiled == source, (
            f"{language}: messages.mo is stale (run statsservice/web/assets/translations.sh)"
        )


def test_translations_keep_their_placeholders_and_markup():
    for language in LANGUAGES[1:]:
        for message in catalog(language):
            if not message.id or not message.string:
                continue
            for token in ("%%", "<code>", "</code>", "%("):
                assert message.id.count(token) == message.string.count(token), (language, message.id)
