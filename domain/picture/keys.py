"""The picture's Redis keys: incidents and the fuser that writes them, process heartbeats, threat caches.

Fusion keys (written by workers/fusion.py, read by the screens)::

    wf:incidents             hash    incident id -> incident JSON (reports, corroboration, lat/lon...); kept
                                     after the fuser prunes an incident from memory (history, frozen)
    wf:incident-of           hash    event id -> id of the incident holding it
    wf:incident-changes      stream  fields id, op (upsert|remove), into (remove by a merge); trimmed by
                                     age (MINID, a day): a screen whose cursor is older reloads wf:incidents
    wf:fusion:overrides      list    operator splits/merges as JSON: a request until the fuser resolves it
                                     in place (LSET) into the Correlator's rule (with "at"), or "refused"
    wf:fusion:leader         string  token of the one active fuser (SET NX EX, renewed; fences its writes)
    wf:fusion:state          hash    cursor (last wf:events id fused), overrides (list entries applied),
                                     leader, at (epoch seconds of the last write)
    wf:fusion:checkpoint     string  the fuser's whole state after the entry named in it (zlib'd JSON,
                                     workers/checkpoint.py), written with the incidents it matches: a
                                     restart replays only what follows
    wf:incident-updated      zset    incident id -> stream time (ms) of its last report or override: what
                                     ages an incident out of the live set (workers/retention.py)
    wf:incidents:aged        hash    incident id -> JSON of an incident aged out of wf:incidents (no
                                     report for incident_max_age_days): off the screens, still found by id
    wf:incident-time         zset    incident id -> its time (epoch seconds): every incident of wf:incidents
    wf:aggregated-markings   set     TLP labels whose screens got the aggregated picture: a web process
                                     that starts builds their models before the first page asks
    wf:incident-geo          geo     incident id -> its position (placed incidents, |lat| <= 85.05)
                                     Both written with wf:incidents in one transaction, filled on rebuild;
                                     they let "Merge with..." (domain/picture/candidates.py) find incidents
                                     near in time and place without reading the whole hash.
    consumer group "fuser" on wf:events (XREADGROUP/XACK; the stream is never trimmed by count, only by
    age past events_retention_days, behind the checkpoint and every group, archived first)

Processes and caches::

    wf:heartbeat:<role>    hash     process name -> last heartbeat (epoch seconds); the fuser writes it
    wf:cache:processes     string   are the fuser, workers and scheduler running (JSON), expires in seconds
    wf:cache:threat:<TLP>  string   threat levels (JSON) as a reader of that marking sees them, expire in seconds
    wf:cache:threat-stamp  string   "<epoch>|<newest wf:incident-changes id>" of that computation: while no
                                    incident changes, the levels are reused up to a minute, not recomputed

Threat levels (domain/picture/threat.py)::

    wf:threat:levels                 hash    "<TLP>|<scope>" -> "LEVEL score": the last level logged for
                                             readers of that marking, scope "global" or a workspace id
    wf:threat:basis:<TLP>|<scope>    string  its contributors then (JSON id -> [weight, title, severity]),
                                             so the next change can say what moved the level
    wf:threat-changes                stream  every change of level: tlp, scope, name, from, to, was, score,
                                             at, cause (JSON), text; a few a day, never trimmed
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["IncidentKeys", "ProcessKeys", "ThreatKeys"]


class IncidentKeys:
    """Incidents, their indexes and the fuser's state (owned by workers.fusion.Fuser)."""

    INCIDENTS = f"{PREFIX}:incidents"
    INCIDENT_TIME = f"{PREFIX}:incident-time"
    INCIDENT_GEO = f"{PREFIX}:incident-geo"
    INCIDENT_OF = f"{PREFIX}:incident-of"
    INCIDENT_CHANGES = f"{PREFIX}:incident-changes"
    FUSION_OVERRIDES = f"{PREFIX}:fusion:overrides"
    FUSION_LEADER = f"{PREFIX}:fusion:leader"
    FUSION_STATE = f"{PREFIX}:fusion:state"
    FUSION_CHECKPOINT = f"{PREFIX}:fusion:checkpoint"
    INCIDENT_UPDATED = f"{PREFIX}:incident-updated"
    INCIDENTS_AGED = f"{PREFIX}:incidents:aged"
    AGGREGATED_MARKINGS = f"{PREFIX}:aggregated-markings"
    FUSION_GROUP = "fuser"


class ProcessKeys:
    """Heartbeats and the cached process status (owned by domain.picture.processes)."""

    PROCESS_CACHE = f"{PREFIX}:cache:processes"

    @staticmethod
    def heartbeat(role: str) -> str:
        return f"{PREFIX}:heartbeat:{role}"


class ThreatKeys:
    """Threat levels cached per reader marking, and the log of their changes (domain/picture/threat.py)."""

    THREAT_LEVELS = f"{PREFIX}:threat:levels"
    THREAT_CHANGES = f"{PREFIX}:threat-changes"
    THREAT_STAMP = f"{PREFIX}:cache:threat-stamp"
    THREAT_AGENCIES = f"{PREFIX}:cache:threat-agencies"  # agencies whose levels are cached (forget_cached)
    # Bumped by forget_cached: levels computed under an older generation are stale even if their
    # computation ended after it (it began before the resolution it does not count).
    THREAT_GENERATION = f"{PREFIX}:cache:threat-generation"

    @staticmethod
    def threat_basis(field: str) -> str:
        """The contributors of the level last logged for ``field`` ("<TLP>|<scope>")."""
        return f"{PREFIX}:threat:basis:{field}"

    @staticmethod
    def threat_stamp(agency: str | None = None) -> str:
        """When the cached levels were computed and at which change ("<time>|<stream id>"): the host
        center's, or one agency's (its members' own items weigh in its levels)."""
        return ThreatKeys.THREAT_STAMP + (f":{agency}" if agency else "")

    @staticmethod
    def threat_cache(marking: str) -> str:
        """Threat levels as a reader with maximum TLP ``marking`` may see them, recomputed every few
        seconds by any app process (one key per label)."""
        return f"{PREFIX}:cache:threat:{marking}"
