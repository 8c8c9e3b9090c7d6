"""Offline assets: ``dvc_plots.html``, the page template ``dvc plots show``/``dvc plots diff`` fill (``.dvc/config``
``plots.html_template``), with Vega, Vega-Lite and vega-embed inlined from ``vega/`` (their npm builds), so the
page draws its charts without a network. ``python -m facevoice.report_assets`` rebuilds the template."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "dvc_plots.html"
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")  # in load order: vega-embed needs both globals

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>facevoice: DVC plots</title>
<!-- Vega, Vega-Lite and vega-embed inlined from src/facevoice/report_assets/vega (BSD-3-Clause, see the LICENSE.*
files there): the template has no scripts placeholder, so DVC adds no CDN script tags -->
@SCRIPTS@
<style>table { border-spacing: 15px; } body { font-family: sans-serif; }</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def template() -> str:
    """The template's text: PAGE with each bundled script inlined in a <script> element."""
    scripts = "\n".join(f"<script>/* {name} */\n{(HERE / 'vega' / name).read_text(encoding='utf-8')}\n</script>"
                        for name in SCRIPTS)
    return PAGE.replace("@SCRIPTS@", scripts)


def write_template(path: Path = TEMPLATE) -> Path:
    path.write_text(template(), encoding="utf-8")
    return path
