"""Sphinx configuration: API reference from the docstrings, tutorials executed at every build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TRACKABILITY_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TRACKABILITY_PROGRESS", "0")
# the notebook kernels draw inline (CI exports MPLBACKEND=Agg, which would show no figure)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
# no ipywidgets here: tqdm's notebook bars would warn in every tutorial
os.environ.setdefault("PYTHONWARNINGS", "ignore:IProgress not found")
# the notebook kernels import this checkout, whatever is installed
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])

from trackability import __version__  # noqa: E402

project = "trackability"
author = "trackability developers"
release = version = __version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# Tutorials are executed at every build; a failing cell fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 480
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "results", "snippets", "figures/*.md", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type"]

html_theme = "furo"
html_title = f"trackability {release}"
