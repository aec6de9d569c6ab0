"""Safe XML reading shared by the XML adapters (cap, cap_index, gdacs, quakeml): defusedxml only
(no DTD, no entities, no external references), repairs reported as warnings, and namespace-blind
helpers for finding children by local name."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from feeds.contract import DocumentRefused

_DOUBLE_BOM = b"\xc3\xaf\xc2\xbb\xc2\xbf"  # a UTF-8 BOM that was re-encoded as Latin-1 -> UTF-8
_PROLOG_SKIP = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", re.S | re.I)
_START_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)")


def read_xml(data: bytes) -> tuple[Element, list[str]]:
    """Parse ``data`` with defusedxml (no DTD, no entities, no external references).

    Returns the root and warnings about repairs: a double-encoded BOM or white space before the
    XML declaration is removed; bytes that are not UTF-8 in a document read as UTF-8 are replaced
    (U+FFFD). Raises DocumentRefused with a one-line reason for anything hostile or unreadable.
    """
    warnings: list[str] = []
    if data.startswith(_DOUBLE_BOM):
        data = data[len(_DOUBLE_BOM) :]
        warnings.append("document starts with a double-encoded byte-order mark; removed")
    stripped = data.lstrip(b" \t\r\n")
    if stripped is not data and stripped.startswith(b"<?xml") and len(stripped) != len(data):
        data = stripped
        warnings.append("white space before the XML declaration; removed")
    try:
        return _fromstring(data), warnings
    except ParseError as exc:
        if "invalid token" in str(exc) or "not well-formed" in str(exc):
            repaired = _utf8_repaired(data)
            if repaired is not None:
                try:
                    root = _fromstring(repaired)
                except (ParseError, DocumentRefused):
                    pass
                else:
                    warnings.append("document is not valid UTF-8; undecodable bytes replaced with U+FFFD")
                    return root, warnings
        raise DocumentRefused(f"not well-formed XML: {exc}") from None


def _fromstring(data: bytes) -> Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise DocumentRefused(
            f"document declares a DTD (<!DOCTYPE {exc.name}>); DTDs and entities are refused"
        ) from None
    except EntitiesForbidden as exc:
        raise DocumentRefused(f"document declares the XML entity {exc.name!r}; entities are refused") from None
    except ExternalReferenceForbidden as exc:
        raise DocumentRefused(f"document references an external resource ({exc.sysid}); refused") from None
    except (ValueError, LookupError) as exc:  # unknown or multi-byte declared encodings
        raise DocumentRefused(f"unreadable XML: {exc}") from None


def _utf8_repaired(data: bytes) -> bytes | None:
    """The document with invalid UTF-8 replaced, when it is read as UTF-8 and is not valid UTF-8."""
    head = data[:200].lower()
    declared = re.search(rb"encoding\s*=\s*['\"]([\w.-]+)", head)
    if declared and declared.group(1) not in (b"utf-8", b"utf8"):
        return None
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode("utf-8")


def root_tag(head: str) -> str | None:
    """The qualified name of the first element in ``head`` (prolog, comments, DOCTYPE skipped);
    None when it cannot be seen. NUL characters (UTF-16/32 read as UTF-8) are ignored."""
    text = head.replace("\x00", "").lstrip("\ufeff\ufffd\u00ef\u00bb\u00bf\u00c3\u00c2")
    pos = 0
    while True:
        match = _PROLOG_SKIP.match(text, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
    tag = _START_TAG.match(text, pos)
    return tag.group(1) if tag else None


def local(tag: object) -> str:
    """``{ns}name`` or ``prefix:name`` -> ``name``."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def namespace(tag: object) -> str:
    text = str(tag)
    return text[1:].split("}", 1)[0] if text.startswith("{") else ""


def kids(el: Element, name: str) -> list[Element]:
    """Direct children whose local name is ``name``, whatever their namespace."""
    return [c for c in el if isinstance(c.tag, str) and local(c.tag) == name]


def kid(el: Element, name: str) -> Element | None:
    for c in el:
        if isinstance(c.tag, str) and local(c.tag) == name:
            return c
    return None


def kid_text(el: Element | None, name: str) -> str:
    """Stripped text of the first child named ``name``; "" when absent."""
    if el is None:
        return ""
    child = kid(el, name)
    return element_text(child).strip() if child is not None else ""


_SKIP_TEXT_OF = frozenset({"script", "style", "iframe", "object", "embed"})


def element_text(el: Element) -> str:
    """All text inside ``el`` (markup nested in a text field is flattened, and the contents of
    script-like elements dropped), so nothing is lost and nothing runs."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and local(child.tag).lower() not in _SKIP_TEXT_OF:
            parts.append(element_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
