"""Product keys (owned by domain/products/exports.py)::

    wf:products:log    stream  one entry per product handed on: what (format, count, marking, scope),
                               by, to, when, channel (never trimmed by count: the dissemination log
                               28 CFR Part 23 asks for)
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["ProductKeys"]


class ProductKeys:
    LOG = f"{PREFIX}:products:log"
