"""The small text format of the legal pages, and its rendering to HTML.

Operators write their terms, imprint and privacy details in plain text files
(see ``docs/operations.md``). The format is a small part of Markdown, chosen so
that a file reads well as it is and that nothing in it can become markup we
did not write ourselves:

- ``# Heading``, ``## Heading``, ``### Heading`` (shown one level below the
  page's own title);
- paragraphs, separated by a blank line; a line break inside a paragraph stays
  a line break (addresses in an imprint are written line by line);
- list items, each line starting with ``- `` (an indented line continues it);
- inline: ``[text](https://...)`` links (also ``mailto:``, ``tel:`` and paths
  on this service starting with ``/``), ``**bold**``, `` `code` ``, and
  ``[[placeholder]]``, which the templates use for what the operator has to
  fill in and which is shown highlighted.

Everything else is text: every character is escaped, a link to any other
scheme (``javascript:``, ``data:``, ``http:``) stays visible as written. This
module is pure: text in, HTML out, no files, no settings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_HEADING = 3
"""``#`` to ``###``; a line with more hashes is a paragraph."""

HEADING_OFFSET = 1
"""``#`` becomes ``<h2>``: the page's title is its only ``<h1>``."""

_HEADING = re.compile(rf"^(#{{1,{MAX_HEADING}}}) +(.+?)\s*$")
_ITEM = re.compile(r"^[-*] +(.*)$")
# Placeholders first: "[[x]]" must not be read as a link "[x]".
_INLINE = re.compile(
    r"\[\[(?P<placeholder>[^\]\n]+)\]\]"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<target>[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*\n]+)\*\*"
    r"|`(?P<code>[^`\n]+)`"
)
# https only (a plain http link on a page about privacy would be a poor advert),
# mail, phone, and paths on this service.
_SAFE_TARGET = re.compile(
    r"^(?:https://[^\s<>\"'`]+"
    r"|mailto:[^\s<>\"'`]+"
    r"|tel:\+?[0-9()/.-]+"
    # "//host" would be another site: a path has no second slash at its start.
    r"|/(?:[^\s<>\"'`/][^\s<>\"'`]*)?)$"
)
_PLACEHOLDER = re.compile(r"\[\[([^\]\n]+)\]\]")


@dataclass(frozen=True)
class Heading:
    level: int
    """1 to :data:`MAX_HEADING`, as written (``#`` is 1)."""
    text: str


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


Block = Heading | Paragraph | Items


def parse(text: str) -> list[Block]:
    """The blocks of ``text``, in order."""
    return list(_blocks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")))


def _blocks(lines: list[str]) -> Iterator[Block]:
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> Iterator[Block]:
        if paragraph:
            yield Paragraph(tuple(paragraph))
            paragraph.clear()
        if items:
            yield Items(tuple(items))
            items.clear()

    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            yield from flush()
            continue
        indented = line.startswith((" ", "\t"))
        heading = None if indented else _HEADING.match(line)
        item = None if indented else _ITEM.match(line)
        if heading:
            yield from flush()
            yield Heading(len(heading.group(1)), heading.group(2))
        elif item:
            if paragraph:
                yield from flush()
            items.append(item.group(1).strip())
        elif items and indented:
            items[-1] = f"{items[-1]} {line.strip()}"
        else:
            if items:
                yield from flush()
            paragraph.append(line.strip())
    yield from flush()


def inline(text: str) -> str:
    """``text`` as escaped HTML, with the format's links, bold, code and placeholders."""
    out: list[str] = []
    at = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[at : m.start()]))
        at = m.end()
        if m.group("placeholder") is not None:
            out.append(f'<mark class="placeholder">{html.escape(m.group(0))}</mark>')
        elif m.group("label") is not None:
            out.append(_link(m.group("label"), m.group("target"), m.group(0)))
        elif m.group("bold") is not None:
            out.append(f"<strong>{html.escape(m.group('bold'))}</strong>")
        else:
            out.append(f"<code>{html.escape(m.group('code'))}</code>")
    out.append(html.escape(text[at:]))
    return "".join(out)


def _link(label: str, target: str, written: str) -> str:
    if not _SAFE_TARGET.match(target):
        return html.escape(written)
    # Another site gets neither our address (Referrer-Policy says so too) nor a handle
    # on this window.
    rel = ' rel="noopener noreferrer"' if target.startswith("https:") else ""
    return f'<a href="{html.escape(target, quote=True)}"{rel}>{html.escape(label)}</a>'


def render(blocks: Iterable[Block]) -> str:
    """HTML for ``blocks``: one element per line, nothing unescaped from the text."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = block.level + HEADING_OFFSET
            out.append(f"<h{level}>{inline(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            out.append("<p>" + "<br>\n".join(inline(line) for line in block.lines) + "</p>")
        else:
            out.append("<ul>")
            out.extend(f"<li>{inline(item)}</li>" for item in block.items)
            out.append("</ul>")
    return "\n".join(out) + "\n" if out else ""


def to_html(text: str) -> str:
    """``render(parse(text))``."""
    return render(parse(text))


def placeholders(text: str) -> list[str]:
    """The ``[[...]]`` placeholders left in ``text``, in order (empty: all filled in)."""
    return _PLACEHOLDER.findall(text)
