"""Who may see and do what: accounts, sessions, TLP markings, the audit trail."""

__all__ = ['accounts', 'audit', 'keys', 'sessions', 'throttle', 'tlp']
