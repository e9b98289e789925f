"""The diff of two runs as a self-contained HTML page (`auditor diff --html FILE`).

The page is reports/templates/diff.html.j2 around the section partial
reports/templates/sections/html_diff.html.j2, which lays out a diff document (auditor/diff.py)
and nothing else, so that the period report can include it once per pair of runs. It has the
look of the HTML report: the same stylesheet, taken from report.html.j2's ``<style>`` element
(its static rules, before the style's colours), and the same content security policy (nothing
loads from anywhere; there is no script). Values are autoescaped; the same document gives the
same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from auditor.report.html import CSP, TEMPLATE
from auditor.report.wording import templates_dir

PAGE = "diff.html.j2"
SECTION = "sections/html_diff.html.j2"
# report.html.j2's stylesheet: from its <style> to the style's colours (`{{ style_css }}`).
_STYLE = re.compile(r"<style>\n(?P<css>.*?)\{\{ style_css \}\}", re.S)


def report_stylesheet() -> str:
    """The static CSS rules of the HTML report (report.html.j2), for pages that look like it.
    ValueError when the template no longer has them where this expects (a test checks)."""
    text = (templates_dir() / TEMPLATE).read_text(encoding="utf-8")
    found = _STYLE.search(text)
    if not found or "{{" in found.group("css") or "{%" in found.group("css"):
        raise ValueError(f"{TEMPLATE}: no static <style> rules before {{{{ style_css }}}}")
    return found.group("css")


def render_diff_html(doc: Mapping[str, Any], *, row_limit: int = 500) -> str:
    """The page of diff document `doc`; `row_limit` rows at most per list (the rest counted)."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    return env.get_template(PAGE).render(diff=doc, csp=CSP, diff_row_limit=row_limit,
                                         stylesheet=markupsafe.Markup(report_stylesheet()))
