"""The picture screens draw: incidents, marker rows and threat, bins, merge candidates, health."""

__all__ = ['bins', 'candidates', 'health', 'incidents', 'keys', 'markers', 'metrics', 'processes', 'stored', 'threat']
