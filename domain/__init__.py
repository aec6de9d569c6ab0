"""What the watch floor holds, below the workers and the web app: configuration and scenarios
(``config``), the store and its keys (``store``), access (``access``: accounts, sessions, TLP,
audit), operators' work (``operations``: annotations, alerts, rules, outbound copies, criminal
intelligence), the picture (``picture``: incidents, markers, bins, health), reports and tips
(``reports``: suspicious activity, vetting, entities and links) and one error tree
(``errors``). Imports only ``feeds`` and ``layers``."""

__all__ = ['access', 'config', 'errors', 'operations', 'picture', 'reports', 'store']
