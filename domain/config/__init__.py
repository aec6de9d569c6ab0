"""Configuration (the settings table, a TOML file, the environment) and workspaces."""

__all__ = ['loader', 'scenario', 'settings', 'workspaces']
