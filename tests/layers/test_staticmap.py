"""Maps drawn on the server for products: streets from the offline tiles, outlines where none."""

from __future__ import annotations

from lxml import etree

from layers.staticmap import Point, Ring, fit, render
from layers.streets import BUILT_IN

SQUARE = (60.1693, 24.9526)


def test_fit_holds_every_point_at_the_largest_zoom():
    view = fit([SQUARE, (60.1699, 24.9384)], 800, 500)
    xs = [view.pixel(*p)[0] for p in (SQUARE, (60.1699, 24.9384))]
    assert view.zoom >= 13 and all(0 < x < 800 for x in xs)
    wider = fit([SQUARE, (42.35, -71.06)], 800, 500)
    assert wider.zoom < view.zoom


def test_streets_from_the_installed_basemap(tmp_path):
    view = fit([SQUARE], 600, 400, max_zoom=15)
    svg = render(view, [Point(*SQUARE, "#d00", "1")], [Ring(*SQUARE, 0.3, "Senate Square")], folder=BUILT_IN)
    tree = etree.fromstring(svg.encode())
    assert len(tree.findall(".//{http://www.w3.org/2000/svg}path")) > 100  # roads, buildings, water
    assert "© OpenStreetMap contributors" in svg and "Senate Square" in svg and not view.notes


def test_outlines_where_no_street_basemap_covers(tmp_path):
    view = fit([(42.35, -71.06)], 600, 400, max_zoom=8)
    svg = render(view, [Point(42.35, -71.06, "#d00", "<b>")], folder=tmp_path)
    assert "Natural Earth" in svg and "&lt;b&gt;" in svg and view.notes
