"""Pure geometry and tables at the bottom: basemaps, boundaries, Meteoalarm warning areas, maps drawn for products (staticmap), zones and workspaces, the gazetteer's
tables. Imports no other package of Watchfloor."""

__all__ = ['basemap', 'basemap_build', 'boundaries', 'regions', 'regions_build', 'staticmap', 'streets', 'zones']
