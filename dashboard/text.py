"""User text shown as plain text where Streamlit renders Markdown.

``st.error``, ``st.info``, ``st.caption``, ``st.subheader`` and expander labels render
Markdown: a dataset name, a link, an experiment id or name, a note, a CSV header or a
class name would otherwise become a clickable link, an auto-loaded image, coloured text
or an icon. Every message that can hold such a string goes through :func:`plain`.
"""

from __future__ import annotations

import re

_ZERO_WIDTH = "\u200b"
# Characters that start Markdown (or Streamlit's) syntax anywhere in a line; "_" only emphasises
# at a word's edge, so snake_case names stay as they are.
_MARKUP = re.compile(r"([\\`*\[\]<>#|~$&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# Markers that only mean something at the start of a line: lists, setext headings, quotes.
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))", re.MULTILINE)


def plain(text: object) -> str:
    """``text`` escaped so that Markdown shows it as written, never as markup.

    Backslash escapes stop links, images, emphasis, headings, lists, maths and HTML.
    They do not stop what GitHub-flavoured Markdown and Streamlit find in the text
    afterwards (bare ``http://`` and ``www.`` addresses, e-mail addresses,
    ``:material/icon:``, ``:red[...]`` and emoji codes), so an invisible zero-width
    space breaks those up: inside ``http://`` and ``www.``, before ``@``, and after a
    ``:`` that is followed by a letter.
    """
    text = str(text)
    text = re.sub(r"(?i)\b(https?|www)(?=://|\.)", lambda m: m.group(1) + _ZERO_WIDTH, text)
    text = re.sub(r":(?=[A-Za-z])", ":" + _ZERO_WIDTH, text).replace("@", _ZERO_WIDTH + "@")
    text = _MARKUP.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2).isdigit()
                           else m.group(1) + m.group(2) + "\\", text)
