"""HTML building blocks of the report: escaped tables, sections and the self-contained page (inline CSS).

Every data-derived string goes through ``html.escape``; figures are ``data:`` URIs; the
page loads nothing from elsewhere and runs no script.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from . import __version__
from .files import GENERATOR

__all__ = ["esc", "fmt_number", "fmt_p", "page", "section", "table"]

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1180px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.86em}
th,td{border-bottom:1px solid #e3e3e3;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f6f8;border-bottom:2px solid #ccc}td.text,th.text{text-align:left}
.sim{background:#fff3cd;border:1px solid #e0b84c;padding:6px 10px;margin:.5em 0;font-weight:bold}
.warn{background:#fdecea;border-left:4px solid #c0392b;padding:4px 10px;margin:.3em 0}
.note{color:#555;font-size:.9em}code,pre{background:#f4f6f8;padding:1px 4px;font-size:.9em}
pre{padding:8px;white-space:pre-wrap}img{max-width:100%;height:auto}nav a{margin-right:12px}
.methods{max-width:860px}
"""


def esc(value) -> str:
    """``value`` as HTML-escaped text (quotes too)."""
    return html.escape(str(value), quote=True)


def fmt_p(p) -> str:
    """APA-style p: '< .001', else three decimals without the leading zero."""
    if p is None or not np.isfinite(p):
        return "–"
    if p < 0.001:
        return "< .001"
    return f"{p:.3f}".lstrip("0") if p < 1 else "1.000"


def fmt_number(x, digits=2) -> str:
    """A number with ``digits`` decimals (integers as they are), '–' when missing."""
    if x is None or isinstance(x, str):
        return "" if x is None else x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "–" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    if x == int(x) and abs(x) < 1e6 and digits == 0:
        return str(int(x))
    return f"{x:.{digits}f}".replace("-", "−")


def table(df: pd.DataFrame, digits: dict | None = None, caption: str | None = None) -> str:
    """An escaped HTML table; numeric columns right-aligned, p columns APA-formatted."""
    digits = digits or {}
    head = "".join(f'<th class="{"text" if not pd.api.types.is_numeric_dtype(df[c]) else ""}">{esc(c)}</th>'
                   for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for column, value in zip(df.columns, row):
            if column in ("p", "p_gg") or column.startswith("p_"):
                text, cls = fmt_p(value), ""
            elif isinstance(value, str) or value is None or (not isinstance(value, (int, float, np.number))):
                text, cls = ("" if value is None else str(value)), "text"
            else:
                text, cls = fmt_number(value, digits.get(column, 0 if column.startswith("n_") or column == "n"
                                                         else 2)), ""
            cells.append(f'<td class="{cls}">{esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(anchor: str, title: str, body: str, simulated: bool) -> str:
    """A report section; on simulated data it opens with the simulated-data banner."""
    banner = ('<div class="sim">SIMULATED DATA: these trials come from simulated participants (a pilot), '
              'not from people.</div>') if simulated else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{banner}{body}</section>'


def page(title: str, intro: str, sections: list[tuple[str, str, str]], simulated: bool) -> str:
    """The whole document: title, navigation and the sections ``(anchor, title, body_html)``."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b, simulated) for a, t, b in sections)
    banner = '<div class="sim">SIMULATED DATA — not a study of people.</div>' if simulated else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="{GENERATOR} {esc(__version__)}">'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{banner}{intro}<nav>{nav}</nav>"
            f"{body}</body></html>")
