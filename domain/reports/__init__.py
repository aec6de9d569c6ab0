"""The fusion center's own information: tips and suspicious-activity reports (ISE-SAR 1.5.5), their
vetting, and the entities (people, vehicles, phones, e-mails, organisations, addresses) that link them.

    categories.py   the sixteen ISE-SAR behaviour categories (NIEM codes) and the target sectors
    form.py         one report from JSON or a form: every field checked, one line naming what is wrong
    store.py        reports in Redis, stored whole or not at all; who may read which
    vetting.py      the two-step vetting workflow, its privacy rules, retention and purge
    entities.py     entities from reports: normalised, resolved, confirmed, merged and split
    annotated.py    the phones and e-mails operators' annotations name, as mentions linked to the incident
    graph.py        links between entities, reports and incidents: neighbourhoods, paths, exports
"""

__all__ = ["annotated", "categories", "entities", "form", "graph", "keys", "store", "tips", "vetting"]
