"""``python -m facevoice.report_assets``: rebuild dvc_plots.html from the bundled Vega scripts."""
from . import write_template

print(write_template())
