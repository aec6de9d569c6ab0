"""The page's own functions (assets/wf-*.js), taken out of the files and run in Node, as the browser
runs them: for tests of what the browser decides without a browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def page_functions(variables: tuple[str, ...], functions: tuple[str, ...]) -> str:
    """The ``var`` lines and ``function`` bodies named, from assets/wf-*.js in the order Dash loads them."""
    js = "\n".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "assets").glob("wf-*.js")))
    parts = []
    for name in variables:
        m = re.search(r"\n\s*var " + name + r" = [^\n]+;\n", js)
        assert m, f"var {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    for name in functions:
        m = re.search(r"\n(\s*)function " + name + r"\(.*?\n\1\}", js, re.S)
        assert m, f"function {name} not found in assets/wf-*.js"
        parts.append(m.group(0))
    return "\n".join(parts)


def run_node(script: str, stdin: str = "") -> str:
    """What ``script`` writes, run by Node (installed by `make install`); a failure is an assertion."""
    node = shutil.which("node")
    assert node, "Node.js is needed (make install uses npm for the basemap and gazetteer)"
    done = subprocess.run([node, "-e", script], input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
