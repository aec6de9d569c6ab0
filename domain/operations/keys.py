"""Operator keys (owned by domain/operations/annotations.py, criminal_intel.py, alerts.py, outbound.py, rules.py)::

    wf:annotation:<incident>          string  the annotation of one incident or event (JSON, with version)
    wf:annotation-history:<incident>  list    every change, oldest first: version, by, at, changes
    wf:annotated                      set     ids of annotated incidents (reads of them are audited)
    wf:intel                          set     ids whose annotation is criminal intelligence (28 CFR Part 23)
    wf:intel:purge-notice             hash    incident -> date the scheduled purge removes it
    wf:intel:disseminations           stream  every dissemination of a criminal-intelligence record: incident,
                                              recipient, reason, by, at, channel (never trimmed)
    wf:alert:<id>                     string  one push alert (JSON): current version, status, CAP messages sent
    wf:alert-acks:<id>                hash    person or screen -> JSON {at, version[, by]}: acknowledgement
                                              (``by``: who acknowledged on a wall screen's behalf)
    wf:alert-receipts:<id>            hash    "<account>/<screen>" -> JSON {account, screen, ack_as, version,
                                              at}: each screen reports the versions it received
    wf:alerts                         stream  fields id, op (issue|update|cancel|receipt|ack), v (version):
                                              what screens poll
    wf:alert-ids                      zset    alert id -> issued epoch seconds (listing, Atom feed)
    wf:disseminations                 stream  every outbound copy: alert, version, channel, recipient, outcome,
                                              reason, at (never trimmed by count)
    wf:outbound:sent:<alert>:<v>:<ch> string  set once a copy was delivered, so an RQ retry never sends twice
    wf:rules                          hash    rule id -> alert rule JSON
    wf:rule:<id>:cooldown:<workspace> string  set while the rule is cooling down for that workspace (EX)
    wf:rule:<id>:seen                 set     "<workspace> <incident>" pairs already raised (EXPIRE a day)
    wf:rule-queue                     stream  alerts raised by rules for an operator to review
    RQ queue "watchfloor-outbound"    webhook and e-mail copies of alerts (domain.operations.outbound.deliver)

The classes live here, not in each owner, because annotations and criminal-intelligence records read
each other's keys (a record is an annotation marked as intelligence) and the owners import one another.
"""

from __future__ import annotations

from domain.store.streams import PREFIX

__all__ = ["AlertKeys", "AnnotationKeys", "IntelKeys", "OutboundKeys", "RuleKeys"]


class AnnotationKeys:
    """Annotations and their history (annotations.py)."""

    ANNOTATED = f"{PREFIX}:annotated"

    @staticmethod
    def annotation(incident_id: str) -> str:
        return f"{PREFIX}:annotation:{incident_id}"

    @staticmethod
    def annotation_history(incident_id: str) -> str:
        return f"{PREFIX}:annotation-history:{incident_id}"


class IntelKeys:
    """Criminal-intelligence records (criminal_intel.py, 28 CFR Part 23)."""

    INTEL = f"{PREFIX}:intel"
    INTEL_PURGE_NOTICE = f"{PREFIX}:intel:purge-notice"
    INTEL_DISSEMINATIONS = f"{PREFIX}:intel:disseminations"


class AlertKeys:
    """Push alerts and their acknowledgements (alerts.py)."""

    ALERTS = f"{PREFIX}:alerts"
    ALERT_IDS = f"{PREFIX}:alert-ids"

    @staticmethod
    def alert(alert_id: str) -> str:
        return f"{PREFIX}:alert:{alert_id}"

    @staticmethod
    def alert_acks(alert_id: str) -> str:
        return f"{PREFIX}:alert-acks:{alert_id}"

    @staticmethod
    def alert_receipts(alert_id: str) -> str:
        return f"{PREFIX}:alert-receipts:{alert_id}"


class OutboundKeys:
    """Copies of alerts sent to partners (outbound.py)."""

    DISSEMINATIONS = f"{PREFIX}:disseminations"
    OUTBOUND_QUEUE = "watchfloor-outbound"

    @staticmethod
    def outbound_sent(alert_id: str, version: int, channel: str) -> str:
        return f"{PREFIX}:outbound:sent:{alert_id}:{version}:{channel}"


class RuleKeys:
    """Alert rules, their cooldowns and the review queue (rules.py)."""

    RULES = f"{PREFIX}:rules"
    RULE_QUEUE = f"{PREFIX}:rule-queue"

    @staticmethod
    def rule_cooldown(rule_id: str, workspace: str) -> str:
        return f"{PREFIX}:rule:{rule_id}:cooldown:{workspace}"

    @staticmethod
    def rule_seen(rule_id: str) -> str:
        return f"{PREFIX}:rule:{rule_id}:seen"
