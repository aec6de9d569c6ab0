"""Panels of the three screens: each holds its layout pieces and callbacks."""

__all__ = ['detail', 'figures', 'live', 'status']
