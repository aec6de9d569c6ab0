"""The registry of feed adapters.

Every adapter, built-in or an agency's own, is registered with :func:`register`. Built-ins are the
modules of this package (each calls :func:`register` at import); third-party packages add theirs
through the ``watchfloor.sources`` entry-point group, each entry point naming a module (or
callable) that calls :func:`register`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib.metadata import entry_points

from feeds.contract import DocumentRefused, Source

log = logging.getLogger(__name__)



def builtin_modules() -> list[str]:
    """Every module of this package is a built-in adapter."""
    return [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


_REGISTRY: dict[str, Source] = {}
_loaded = False


def register(source: Source) -> Source:
    """Add ``source`` to the registry under ``source.name``; a second one with the name replaces it."""
    if not isinstance(source, Source):
        raise TypeError(f"{source!r} does not implement feeds.contract.Source")
    _REGISTRY[source.name] = source
    return source


def load_sources() -> dict[str, Source]:
    """Import the built-in adapters and every ``watchfloor.sources`` entry point, once."""
    global _loaded
    if not _loaded:
        for module in builtin_modules():
            importlib.import_module(module)
        for ep in entry_points(group="watchfloor.sources"):
            try:
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, Source):
                    loaded()
            except Exception as exc:  # one broken plug-in must not take the built-ins down
                log.error("feed adapter plug-in %s failed to load: %s", ep.name, exc)
        _loaded = True
    return dict(_REGISTRY)


def get_source(name: str) -> Source:
    sources = load_sources()
    try:
        return sources[name]
    except KeyError:
        known = ", ".join(sorted(sources))
        raise DocumentRefused(f"unknown format {name!r}; known formats: {known}") from None


def detect(data: bytes) -> Source:
    """The adapter most sure it can read ``data``; DocumentRefused when none is."""
    head = data[:4096].decode("utf-8", "replace")
    best: tuple[int, str] = (0, "")
    for name, source in load_sources().items():
        score = source.sniff(head)
        if score > best[0]:
            best = (score, name)
    if best[0] <= 0:
        snippet = " ".join(head.split())[:60]
        raise DocumentRefused(f"no adapter recognises this document (starts {snippet!r})")
    return _REGISTRY[best[1]]
