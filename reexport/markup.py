"""Plain-text escaping shared by every renderer: one-line text and LaTeX text mode.

Standard library only (layer 0), so both the results summaries
(:mod:`reexport.models.results`) and the report tables
(:mod:`reexport.report.tables`) use the same rules.
"""

from __future__ import annotations

import re

#: Runs of line breaks of every kind (those str.splitlines knows) and the blanks around them.
_LINE_BREAK = re.compile(r"(?:[ \t]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]))+[ \t]*")


def one_line(text: str) -> str:
    """``text`` with every line break (and the blanks around it) replaced by one space.

    Line-based formats (a Markdown table row, a LaTeX ``%`` comment or tabular row, a CSV
    record read line by line) break when a cell, label or title spans lines.
    """
    return _LINE_BREAK.sub(" ", text)


_LATEX_MAP = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "−": "-",
    "–": "--",
    "—": "---",
    "×": r"\ensuremath{\times}",
    "±": r"\ensuremath{\pm}",
    "≤": r"\ensuremath{\leq}",
    "≥": r"\ensuremath{\geq}",
    "…": r"\ldots{}",
    "\u00a0": "~",
}
_LATEX_SPECIAL = re.compile("|".join(re.escape(k) for k in _LATEX_MAP))


def latex_escape(text: str) -> str:
    """Escape every LaTeX special character (and a few Unicode symbols) for text mode.

    ``\\ & % $ # _ { } ~ ^ < > |`` become their text-mode commands; ``²``, ``×``,
    dashes and the like become ASCII-safe LaTeX so the table compiles with pdflatex.
    Line breaks become spaces (a blank line would end the paragraph inside a cell, and
    a break in the title would leave the ``%`` comment it is written in).
    """
    return _LATEX_SPECIAL.sub(lambda m: _LATEX_MAP[m.group(0)], one_line(text))
