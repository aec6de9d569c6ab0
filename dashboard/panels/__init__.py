"""Panels of the three screens: each holds its layout pieces and callbacks."""

__all__ = ['alerts', 'detail', 'figures', 'live', 'membership', 'products', 'status']
