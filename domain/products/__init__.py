"""What the watch floor hands on: exports of the picture for partners' own tools.

    exports.py   the live picture (or a workspace of it, since a time) as GeoJSON (RFC 7946), CSV, KML
                 and Cursor on Target events, within the reader's TLP, each export in the dissemination log
    briefing.py  situation reports (HTML, PDF) at the reader's marking
    shares.py    read-only share links: scoped, expiring, revocable, every use audited
    keys.py      the dissemination log of products, share links
"""

__all__ = ["briefing", "exports", "keys", "shares"]
