"""What the watch floor hands on: exports of the picture for partners' own tools.

    exports.py   the live picture (or a workspace of it, since a time) as GeoJSON (RFC 7946), CSV, KML
                 and Cursor on Target events, within the reader's TLP, each export in the dissemination log
    keys.py      the dissemination log of products
"""

__all__ = ["exports", "keys"]
