"""Report and entity keys (owned by domain/reports/store.py, vetting.py, entities.py)::

    wf:report:<id>               string  one report or tip (JSON): fields, state, marking, addenda
    wf:report-history:<id>       list    every state change, oldest first: from, to, by, at, reason
    wf:reports                   zset    report id -> received epoch seconds (listing)
    wf:reports:queue             zset    report id -> received epoch, while it waits for vetting
    wf:reports:in:<state>        zset    report id -> received epoch, the reports in one vetting state
    wf:reports:purged            stream  one record per purged report: id, kind, state, received, reason, at
                                         (never the content)
    wf:tip-receipt:<sha256>      string  report id of the tip a receipt code was issued for
    wf:tip-throttle:<addr>:<w>   string  tips from one address in one window (EX: the window);
                                         the address is never stored with the tip
    wf:entity:<id>               string  one entity (JSON): type, label, key, evidence, confirmed
    wf:entity-key:<type>:<key>   string  entity id holding that normalised value
    wf:entity-dob:<dob>          set     person entity ids with that date of birth (fuzzy-name blocking)
    wf:entity-mentions:<id>      hash    mention id ("<report>:<field>:<n>") -> JSON (report, field, raw, why)
    wf:entities                  zset    entity id -> created epoch (listing)
    wf:report-entities:<id>      set     entity ids a report mentions
    wf:entity-alias:<id>         string  the entity a merged-away id now lives in
    wf:incident-reports:<id>     set     report ids that name an incident (graph links)
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["EntityKeys", "ReportKeys"]


class ReportKeys:
    """Reports, tips, their vetting queue and purge records (store.py, vetting.py)."""

    REPORTS = f"{PREFIX}:reports"
    QUEUE = f"{PREFIX}:reports:queue"
    PURGED = f"{PREFIX}:reports:purged"

    @staticmethod
    def report(report_id: str) -> str:
        return f"{PREFIX}:report:{report_id}"

    @staticmethod
    def history(report_id: str) -> str:
        return f"{PREFIX}:report-history:{report_id}"

    @staticmethod
    def in_state(state: str) -> str:
        return f"{PREFIX}:reports:in:{state}"

    @staticmethod
    def receipt(digest: str) -> str:
        return f"{PREFIX}:tip-receipt:{digest}"

    @staticmethod
    def incident_reports(incident_id: str) -> str:
        return f"{PREFIX}:incident-reports:{incident_id}"

    @staticmethod
    def tip_throttle(address: str, window: int) -> str:
        return f"{PREFIX}:tip-throttle:{address}:{window}"


class EntityKeys:
    """Entities and their mentions (entities.py)."""

    ENTITIES = f"{PREFIX}:entities"

    @staticmethod
    def entity(entity_id: str) -> str:
        return f"{PREFIX}:entity:{entity_id}"

    @staticmethod
    def by_key(kind: str, key: str) -> str:
        return f"{PREFIX}:entity-key:{kind}:{key}"

    @staticmethod
    def by_dob(dob: str) -> str:
        return f"{PREFIX}:entity-dob:{dob}"

    @staticmethod
    def mentions(entity_id: str) -> str:
        return f"{PREFIX}:entity-mentions:{entity_id}"

    @staticmethod
    def report_entities(report_id: str) -> str:
        return f"{PREFIX}:report-entities:{report_id}"

    @staticmethod
    def alias(entity_id: str) -> str:
        return f"{PREFIX}:entity-alias:{entity_id}"
