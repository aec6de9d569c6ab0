"""Pure geometry and tables at the bottom: basemaps, boundaries, zones and workspaces, the gazetteer's
tables. Imports no other package of Watchfloor."""

__all__ = ['basemap', 'basemap_build', 'boundaries', 'streets', 'zones']
