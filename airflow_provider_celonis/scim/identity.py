"""How the SCIM sync tells people apart: one normal form for names, and the names it refuses.

Identities (``userName``, match keys, e-mails, ``protected_users``) are compared in Unicode
NFC, outer whitespace stripped, case-folded (:func:`identity`). A name holding a character
nobody can see, a compatibility form of a letter or Latin mixed with Cyrillic or Greek is an
error (:func:`check_visible`), and two names that only look alike (:func:`skeleton`: accents,
a dotless ``i``, a Cyrillic twin) are the same person typed anew, for the plan a conflict.
Attribute names are case-insensitive, as SCIM defines them (:func:`canonical_keys`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError

__all__ = [
    "ATTRIBUTES",
    "canonical_keys",
    "canonical_name",
    "changes",
    "check_visible",
    "flatten",
    "identity",
    "nfc",
    "protected_names",
    "skeleton",
    "unapplied",
]

ATTRIBUTES = (
    "userName",
    "externalId",
    "displayName",
    "givenName",
    "familyName",
    "email",
    "active",
    "name",
    "emails",
    "id",
    "schemas",
)
"""Attribute names a desired record may spell in any case (SCIM names are case-insensitive)."""
_CANONICAL = {name.casefold(): name for name in ATTRIBUTES}


def canonical_name(key: str) -> str:
    """``key`` as its SCIM attribute name when it spells one in another case (``Active``)."""
    return _CANONICAL.get(key.strip().casefold(), key.strip())


_VISIBLE_SPACE = " "
"""The only space allowed inside a name; NBSP, thin spaces and the like look the same but differ."""


def nfc(value: Any) -> str:
    """``value`` as text in Unicode NFC with outer whitespace stripped (case kept)."""
    return unicodedata.normalize("NFC", str(value)).strip()


def identity(value: Any) -> str:
    """The form in which user names, match keys, e-mails and protected users are compared."""
    return nfc(value).casefold()


_MIXABLE = ("LATIN", "CYRILLIC", "GREEK")
"""Scripts with letters that look alike: a name mixing them is a typo or a spoof, never a person."""
_CYRILLIC = (
    "\u0430\u0441\u0435\u043e\u0440\u0445\u0443\u0456\u0458\u0455"
    "\u04bb\u0501\u051b\u051d\u04cf\u043a\u043c\u043d\u0442\u0432"
)
_GREEK = "\u03b1\u03bf\u03c1\u03b9\u03ba\u03bd\u03c5\u03c7\u03c4\u03b5\u03f2"
_LATIN_ODD = "\u0131\u0237\u0142\u00f8\u0111\u0127\u0167"  # letters without a decomposition
_LOOKALIKES = str.maketrans(
    _CYRILLIC + _GREEK + _LATIN_ODD, "aceopxyijshdqwlkmhtb" + "aopikvuxtec" + "ijlodht"
)


def skeleton(value: Any) -> str:
    """What a name looks like: compatibility forms folded, case-folded, accents dropped and
    Cyrillic or Greek lookalikes mapped to Latin. Two names with one skeleton and different
    :func:`identity` are lookalikes (dotless ``i`` and ``i``, ``jos\u00e9`` and ``jose``)."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", str(value)).strip().casefold())
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare.translate(_LOOKALIKES))


def check_visible(value: str, field: str, where: str) -> None:
    """Refuse a name holding a character that cannot be seen, that only looks like a space, that
    is a compatibility form of another (fullwidth, styled letters) or that mixes Latin with
    Cyrillic or Greek letters (``ada`` typed with a Cyrillic ``a``). The part before and the part
    after an ``@`` are judged apart: a Cyrillic mailbox at a Latin domain is a real address."""
    scripts: list[dict[str, str]] = [{}]
    for char in value.strip():
        category = unicodedata.category(char)
        invisible = category in ("Cc", "Cf", "Zl", "Zp") or (category == "Zs" and char != _VISIBLE_SPACE)
        name = unicodedata.name(char, "a control character")
        if invisible or unicodedata.normalize("NFKC", char) != unicodedata.normalize("NFC", char):
            what = "an invisible character" if invisible else "a compatibility character"
            raise CelonisConfigurationError(
                where,
                f"has {what} U+{ord(char):04X} ({name}) in {field} {value!r}",
                "type it as a plain character in the HR data: it would make a different user of the "
                "same person",
            )
        script = name.split(" ", 1)[0]
        if char == "@":
            scripts.append({})
        elif char.isalpha() and script in _MIXABLE:
            scripts[-1].setdefault(script.capitalize(), char)
    for part in scripts:
        if len(part) > 1:
            shown = ", ".join(f"{script} {char!r} (U+{ord(char):04X})" for script, char in part.items())
            raise CelonisConfigurationError(
                where,
                f"has a {field} {value!r} that mixes scripts: {shown}",
                "a lookalike letter from another alphabet was typed or pasted: retype the name",
            )


def canonical_keys(record: dict[str, Any], where: str) -> dict[str, Any]:
    """``record`` with ``UserName``, `` Active `` and the like under their SCIM names.

    RFC 7643 (2.1) makes attribute names case-insensitive; taken literally, a column ``Active``
    would be ignored and every leaver it marks ``false`` would stay active. Two keys that name
    one attribute are an error, not a silent choice.
    """
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in record.items():
        name = canonical_name(key) if isinstance(key, str) else key
        if name in spelled:
            raise CelonisConfigurationError(
                where,
                f"sets {name} twice ({spelled[name]!r} and {key!r})",
                "keep one of them (attribute names are compared case-insensitively)",
            )
        spelled[name] = key
        out[name] = value
    return out


def protected_names(names: Any, where: str | None = None) -> frozenset[str]:
    """``protected_users`` in the identity form; a single string is one user, not its characters."""
    if isinstance(names, str):
        names = (names,)
    if names is None:
        names = ()
    if not isinstance(names, (list, tuple, set, frozenset)) or not all(isinstance(n, str) for n in names):
        raise CelonisConfigurationError(
            "protected_users",
            f"is {names!r}",
            "pass a list of userName strings (or one userName as a string)",
            where=where,
        )
    for name in names:
        check_visible(name, "protected_users", where or "protected_users")
    return frozenset(identity(n) for n in names)


# -- records: the managed attributes of a desired or current user, in the normal form --------
_CASELESS = ("userName", "email")
_TRUE = {"true", "1", "yes", "y", "active"}
_FALSE = {"false", "0", "no", "n", "inactive", ""}


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise CelonisConfigurationError(where, f"has active={value!r}", "use true or false")


def flatten(user: dict[str, Any], where: str = "users", *, desired: bool = True) -> dict[str, Any]:
    """The managed attributes a record sets (text in NFC), from the flat form or a SCIM User.

    A desired record whose identity is not text (a list, a flag) is an error; a user as Celonis
    lists it (``desired=False``) is taken as it comes.
    """
    name: dict[str, Any] = user["name"] if isinstance(user.get("name"), dict) else {}
    emails: list[Any] = user["emails"] if isinstance(user.get("emails"), list) else []
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
    primary = primary or next((e for e in emails if isinstance(e, dict)), None)
    found = {
        "userName": user.get("userName"),
        "externalId": user.get("externalId"),
        "displayName": user.get("displayName"),
        "givenName": user.get("givenName", name.get("givenName")),
        "familyName": user.get("familyName", name.get("familyName")),
        "email": user.get("email", (primary or {}).get("value")),
    }
    for key, value in found.items():
        if desired and value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise CelonisConfigurationError(
                where, f"has {key}={value!r}", f"give {key} as text (a list or a flag is no {key})"
            )
    flat: dict[str, Any] = {k: nfc(v) for k, v in found.items() if v not in (None, "") and nfc(v)}
    if "active" in user and str(user["active"] if user["active"] is not None else "").strip():
        flat["active"] = _bool(user["active"], where)  # a blank or whitespace cell leaves it unmanaged
    return flat


def _same(key: str, have: Any, want: Any) -> bool:
    if key in _CASELESS:
        return isinstance(have, str) and identity(have) == identity(want)
    if isinstance(have, str) and isinstance(want, str):
        return nfc(have) == nfc(want)
    return bool(have == want)


def changes(desired: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The desired attributes that differ from the current user (normalised, see module doc)."""
    wanted = {**desired, "active": desired.get("active", True)}
    return {
        key: value
        for key, value in wanted.items()
        if not _same(key, current.get(key, True if key == "active" else None), value)
    }


def unapplied(diff: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``diff`` that the user Celonis answered with does not have (as it has them).

    A server may drop a PATCH path it does not support and still answer 200: only the user it
    returns (or reads back) shows whether the change was made.
    """
    have = {**flatten(answer, desired=False), "active": answer.get("active", True) is not False}
    return {key: have.get(key) for key, value in diff.items() if not _same(key, have.get(key), value)}
