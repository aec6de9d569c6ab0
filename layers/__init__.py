"""Pure geometry and tables at the bottom: basemaps, boundaries, zones and workspaces, the gazetteer's
build. Imports no other package of Watchfloor."""

__all__ = ['basemap', 'basemap_build', 'boundaries', 'gazetteer_build', 'zones']
