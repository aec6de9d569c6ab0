"""What the watch floor holds, below the workers and the web app: configuration and scenarios
(``config``), the store and its keys (``store``), access (``access``: accounts, sessions, TLP,
audit), operators' work (``operations``: annotations, alerts, rules, outbound copies, criminal
intelligence), the fusion center's own reports (``reports``: tips and suspicious-activity reports,
their vetting, entities and links), what it hands on (``products``: exports), the picture (``picture``: incidents, markers, bins, health), the picture as it was (``replay``) and one error tree
(``errors``). Imports only ``feeds`` and ``layers``."""

__all__ = ['access', 'agencies', 'config', 'errors', 'operations', 'picture', 'products', 'replay', 'reports', 'store']
