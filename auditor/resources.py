"""Where the built-in data lives: rule packs, report templates, sample configs.

In the repository they sit at the top level (rules/, reports/templates/, sample_configs/),
where people review them; a built wheel carries them inside the package as
``auditor/_builtin/<name>`` (see pyproject's force-include). This module finds them in
either place, so the tool works the same from a checkout and from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

_SOURCE_LAYOUT = {"rules": "rules", "templates": "reports/templates", "sample_configs": "sample_configs"}


def builtin_dir(name: str) -> Path:
    """The folder of built-in data `name` (rules, templates or sample_configs).

    Raises FileNotFoundError naming both places looked in when neither exists (a broken install).
    """
    if name not in _SOURCE_LAYOUT:
        raise KeyError(f"unknown built-in data folder {name!r}; known: {', '.join(_SOURCE_LAYOUT)}")
    package = Path(__file__).resolve().parent
    installed = package / "_builtin" / name
    if installed.is_dir():
        return installed
    source = package.parent / _SOURCE_LAYOUT[name]
    if source.is_dir():
        return source
    raise FileNotFoundError(f"built-in {name} not found in {installed} or {source}; the installation is incomplete")
