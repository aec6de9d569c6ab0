"""RQ jobs and long-running processes on the domain: feed polls (``jobs``, ``schedule``), the ingest
pipeline, learned places, the fuser (``fusion``, ``overrides``) and the outbound worker."""

__all__ = ['fusion', 'incident_rows', 'ingest', 'jobs', 'outbound', 'overrides', 'places', 'schedule']
