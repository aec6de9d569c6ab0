"""Documents to events, pure: the bounded fetch, one adapter per source format (``feeds.sources``),
the event model, feed text, geocoding and the fusion rules (``feeds.fuse``). Imports only ``layers``."""

__all__ = ['contract', 'fetch', 'fuse', 'gazetteer_build', 'geocode', 'meaning', 'model', 'sources', 'text']
