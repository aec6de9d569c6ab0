"""RQ jobs and long-running processes on the domain: feed polls (``jobs``, ``schedule``), the ingest
pipeline, learned places, the fuser (``fusion``, ``overrides``; its start from a ``checkpoint`` and the
``retention`` of reports and incidents it runs) the outbound worker, partner push intake (``push``: the same pipeline, run by
``POST /api/ingest``), and the threat levels assessed with no screen open (``jobs``)."""

__all__ = ['checkpoint', 'fusion', 'incident_rows', 'ingest', 'jobs', 'outbound', 'overrides', 'places',
           'push', 'retention', 'schedule']
