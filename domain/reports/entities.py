"""Entities in reports: people, vehicles, phones, e-mails, organisations and addresses.

Each mention in a report is normalised with a field library and resolved to one entity:

    phone         E.164 with ``phonenumbers`` (the report's region, else ``default_region``)
    vehicle       the plate upper-case without spaces, dashes or dots, with its state: "MA:ABC123"
    email         lower-case
    person        the name folded (accents, case, punctuation, word order) plus the date of birth; the same
                  date of birth and a name at least NAME_MATCH alike (rapidfuzz) is the same person
    organisation  folded, without legal suffixes (Inc, LLC, Ltd, Oy, GmbH ...)
    address       folded, street words abbreviated (Street -> st)

A person without a date of birth is never joined to another by name alone: the analyst sees the
candidates (:func:`candidates`) and merges. Every resolution keeps its evidence ("same plate and
state", "name 'Jon Smith' ~ 'John Smith' 92, same date of birth"); an analyst confirms, merges or splits
(audited by the caller). Writes go into the caller's transaction so a report and its mentions are
stored together or not at all.
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import orjson
import phonenumbers
import redis
from rapidfuzz import fuzz

from domain.errors import Invalid, NotFound
from domain.reports.keys import EntityKeys

TYPES = ("person", "vehicle", "phone", "email", "organisation", "address")
NAME_MATCH = 88.0
_ORG_SUFFIX = re.compile(r"\b(?:inc|incorporated|llc|ltd|limited|corp|corporation|co|company|plc|gmbh|oy|ab|sa|ag)\b")
_STREET = {"street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr", "lane": "ln",
           "place": "pl", "square": "sq", "court": "ct", "highway": "hwy", "north": "n", "south": "s",
           "east": "e", "west": "w", "katu": "k", "tie": "t"}


def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", plain).split())


def phone_key(raw: str, region: str = "US") -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "?" + re.sub(r"\D", "", raw)  # not a possible number: digits only, marked unverified


def plate_key(plate: str, state: str) -> str:
    return f"{(state or '').upper()}:{re.sub(r'[^A-Za-z0-9]', '', plate or '').upper()}"


def email_key(raw: str) -> str:
    return (raw or "").strip().lower()


def name_key(name: str) -> str:
    return " ".join(sorted(fold(name).split()))


def org_key(name: str) -> str:
    return " ".join(_ORG_SUFFIX.sub(" ", fold(name)).split())


def address_key(text: str) -> str:
    return " ".join(_STREET.get(w, w) for w in fold(text).split())


@dataclass
class Mention:
    field: str  # "vehicles[0]"
    type: str
    raw: str  # as written
    key: str  # normalised
    label: str
    attrs: dict[str, str] = field(default_factory=dict)

    def mention_id(self, report_id: str) -> str:
        return f"{report_id}:{self.field}"


def mentions_of(report: dict[str, Any], region: str = "US") -> list[Mention]:
    """Every entity mention in a report's fields, normalised."""
    out: list[Mention] = []
    for i, s in enumerate(report.get("subjects") or []):
        if s.get("name"):
            key = name_key(s["name"]) + "|" + (s.get("dob") or "")
            out.append(Mention(f"subjects[{i}]", "person", s["name"], key, s["name"],
                               {k: s[k] for k in ("dob", "description") if s.get(k)}))
    for i, v in enumerate(report.get("vehicles") or []):
        if v.get("plate"):
            key = plate_key(v["plate"], v.get("state", ""))
            described = " ".join(x for x in (v.get("colour"), v.get("make"), v.get("model")) if x)
            label = key.split(":", 1)[1] + (f" ({v['state']})" if v.get("state") else "")
            out.append(Mention(f"vehicles[{i}]", "vehicle", v["plate"], key, label,
                               {k: v[k] for k in ("state", "make", "model", "colour") if v.get(k)}
                               | ({"described": described} if described else {})))
    for i, p in enumerate(report.get("phones") or []):
        key = phone_key(p, region)
        out.append(Mention(f"phones[{i}]", "phone", p, key, key.lstrip("?")))
    for i, e in enumerate(report.get("emails") or []):
        out.append(Mention(f"emails[{i}]", "email", e, email_key(e), email_key(e)))
    for i, o in enumerate(report.get("organisations") or []):
        if org_key(o):
            out.append(Mention(f"organisations[{i}]", "organisation", o, org_key(o), o))
    addresses = list(report.get("addresses") or [])
    text = (report.get("location") or {}).get("text") or ""
    if re.search(r"\d", text) and text not in addresses:  # a street address, not "near the stadium"
        addresses.append(text)
    for i, a in enumerate(addresses):
        if address_key(a):
            out.append(Mention(f"addresses[{i}]", "address", a, address_key(a), a))
    return out


@dataclass
class Resolution:
    """Where each mention of one report goes: an existing entity or a new one, and why."""

    mentions: list[tuple[Mention, str, str]] = field(default_factory=list)  # (mention, entity id, evidence)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)  # entity id -> record


def new_entity_id(kind: str) -> str:
    return f"E{kind[:2].upper()}-{secrets.token_hex(5)}"


def resolve_alias(client: Any, entity_id: str) -> str:
    for _ in range(20):
        target = client.get(EntityKeys.alias(entity_id))
        if target is None:
            return entity_id
        entity_id = target.decode()
    return entity_id


def _fuzzy_person(mention: Mention, known: list[tuple[str, str, str]]) -> tuple[str, str] | None:
    """The best person among ``known`` (id, folded name, label) of the same date of birth, if alike enough."""
    mine = mention.key.split("|", 1)[0]
    best: tuple[float, str, str] | None = None
    for entity_id, name, label in known:
        score = fuzz.token_sort_ratio(mine, name)
        if score >= NAME_MATCH and (best is None or score > best[0]):
            best = (score, entity_id, label)
    if best is None:
        return None
    return best[1], (f"name {mention.raw!r} ~ {best[2]!r} ({best[0]:.0f}/100), same date of birth "
                     f"{mention.attrs['dob']}")


def watch_keys(mentions: list[Mention]) -> list[str]:
    """The keys a resolution reads: watched so a concurrent report with the same values retries."""
    keys = {EntityKeys.by_key(m.type, m.key) for m in mentions}
    keys |= {EntityKeys.by_dob(m.attrs["dob"]) for m in mentions if m.type == "person" and m.attrs.get("dob")}
    return sorted(keys)


_EVIDENCE = {"vehicle": "same plate and state", "phone": "same number (E.164)", "email": "same address",
             "person": "same name and date of birth", "organisation": "same name", "address": "same address"}


def _stored_people(client: Any, dobs: set[str]) -> dict[str, list[tuple[str, str, str]]]:
    """The stored people of each date of birth: (id, folded name, label), read in two round trips."""
    dobs_sorted = sorted(dobs)
    if not dobs_sorted:
        return {}
    members = [[m.decode() for m in ids] for ids in (client.smembers(EntityKeys.by_dob(d)) for d in dobs_sorted)]
    flat = [i for ids in members for i in ids]
    records = dict(zip(flat, client.mget([EntityKeys.entity(i) for i in flat]) if flat else [], strict=True))
    out: dict[str, list[tuple[str, str, str]]] = {}
    for dob, ids in zip(dobs_sorted, members, strict=True):
        for entity_id in ids:
            if records.get(entity_id) is not None:
                record = orjson.loads(records[entity_id])
                out.setdefault(dob, []).append((entity_id, record["key"].split("|", 1)[0], record["label"]))
    return out


def plan_many(client: Any, batches: list[list[Mention]]) -> list[Resolution]:
    """Resolve the mentions of several reports against what is stored and against each other (reads only;
    ``client`` may be a watching pipeline). A value met twice resolves to one entity."""
    every = [m for mentions in batches for m in mentions]
    pointers = sorted({EntityKeys.by_key(m.type, m.key) for m in every})
    stored = dict(zip(pointers, client.mget(pointers) if pointers else [], strict=True))
    found = sorted({v.decode() for v in stored.values() if v is not None})
    aliased = {i for i, a in zip(found, client.mget([EntityKeys.alias(i) for i in found]) if found else [],
                                 strict=True) if a is not None}  # merged away since: followed one by one
    stored = {k: (v if v is None or v.decode() not in aliased else resolve_alias(client, v.decode()).encode())
              for k, v in stored.items()}
    people = _stored_people(client, {m.attrs["dob"] for m in every if m.type == "person" and m.attrs.get("dob")
                                     and stored[EntityKeys.by_key(m.type, m.key)] is None})
    local: dict[tuple[str, str], str] = {}
    out = []
    for mentions in batches:
        resolution = Resolution()
        for mention in mentions:
            entity_id, evidence = _resolve_one(client, mention, stored, people, local, resolution)
            local[(mention.type, mention.key)] = entity_id
            resolution.mentions.append((mention, entity_id, evidence))
        out.append(resolution)
    return out


def _resolve_one(client: Any, mention: Mention, stored: dict[str, Any], people: dict[str, list[tuple[str, str, str]]],
                 local: dict[tuple[str, str], str], resolution: Resolution) -> tuple[str, str]:
    name_only = mention.type == "person" and not mention.attrs.get("dob")  # joins nobody: see the docstring
    if (mention.type, mention.key) in local and not name_only:
        return local[(mention.type, mention.key)], _EVIDENCE[mention.type]
    found = None if name_only else stored[EntityKeys.by_key(mention.type, mention.key)]
    if found is not None:
        return found.decode(), _EVIDENCE[mention.type]
    dob = mention.attrs.get("dob") if mention.type == "person" else None
    fuzzy = _fuzzy_person(mention, people.get(dob, [])) if dob else None
    if fuzzy is not None:
        return fuzzy
    entity_id = new_entity_id(mention.type)
    resolution.new[entity_id] = {"id": entity_id, "type": mention.type, "key": mention.key, "label": mention.label,
                                 "attrs": mention.attrs, "created": time.time(), "confirmed": False, "history": []}
    if dob:
        people.setdefault(dob, []).append((entity_id, mention.key.split("|", 1)[0], mention.label))
    return entity_id, "first mention"


def plan(client: Any, mentions: list[Mention]) -> Resolution:
    """Resolve one report's mentions (see :func:`plan_many`)."""
    return plan_many(client, [mentions])[0]


def write(pipe: Any, report_id: str, resolution: Resolution, extra: dict[str, Any] | None = None) -> None:
    """Queue the writes of a resolution on a MULTI pipeline. ``report_id`` is the source: a report's id,
    or ``A:<incident>`` for an annotation (whose mention rows carry ``extra``: incident, marking)."""
    for entity_id, record in resolution.new.items():
        pipe.set(EntityKeys.entity(entity_id), orjson.dumps(record))
        pipe.zadd(EntityKeys.ENTITIES, {entity_id: record["created"]})
        if record["type"] == "person" and record["attrs"].get("dob"):
            pipe.sadd(EntityKeys.by_dob(record["attrs"]["dob"]), entity_id)
    for mention, entity_id, evidence in resolution.mentions:
        pipe.setnx(EntityKeys.by_key(mention.type, mention.key), entity_id)
        pipe.hset(EntityKeys.mentions(entity_id), mention.mention_id(report_id), orjson.dumps(
            {"report": "" if extra else report_id, "field": mention.field, "raw": mention.raw, "why": evidence,
             "attrs": mention.attrs, **(extra or {})}))
        pipe.sadd(EntityKeys.report_entities(report_id), entity_id)


# -- reading ----------------------------------------------------------------------------------------------
def load(client: redis.Redis, entity_id: str) -> dict[str, Any] | None:
    raw = client.get(EntityKeys.entity(resolve_alias(client, entity_id)))
    return orjson.loads(raw) if raw is not None else None


def mentions(client: redis.Redis, entity_id: str) -> list[dict[str, Any]]:
    rows = [{"id": k.decode(), **orjson.loads(v)} for k, v in client.hgetall(EntityKeys.mentions(entity_id)).items()]
    return sorted(rows, key=lambda r: r["id"])


def report_entities(client: redis.Redis, report_id: str) -> list[str]:
    return sorted(m.decode() for m in client.smembers(EntityKeys.report_entities(report_id)))


def find(client: redis.Redis, text: str, region: str = "US") -> str | None:
    """An entity id from an id, an alias, or ``type:value`` (``vehicle:MA:ABC 123``, ``phone:+1 617...``)."""
    text = (text or "").strip()
    if client.exists(EntityKeys.entity(text)) or client.exists(EntityKeys.alias(text)):
        return resolve_alias(client, text)
    kind, _, value = text.partition(":")
    keyers = {"vehicle": lambda v: plate_key(*(reversed(v.split(":", 1)) if ":" in v else (v, ""))),
              "plate": lambda v: plate_key(*(reversed(v.split(":", 1)) if ":" in v else (v, ""))),
              "phone": lambda v: phone_key(v, region), "email": email_key, "organisation": org_key,
              "address": address_key, "person": lambda v: name_key(v.split("|")[0]) + "|" + (v.split("|") + [""])[1]}
    if kind not in keyers or not value:
        return None
    found = client.get(EntityKeys.by_key("vehicle" if kind == "plate" else kind, keyers[kind](value)))
    return resolve_alias(client, found.decode()) if found is not None else None


def candidates(client: redis.Redis, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """People who may be the same as ``entity_id`` but were not joined (no date of birth on one side)."""
    record = load(client, entity_id)
    if record is None or record["type"] != "person":
        return []
    mine = record["key"].split("|", 1)[0]
    out = []
    for raw_id in client.zrange(EntityKeys.ENTITIES, 0, -1):
        other_id = raw_id.decode()
        if other_id == record["id"] or not other_id.startswith("EPE-"):
            continue
        other = load(client, other_id)
        if other is None:
            continue
        score = fuzz.token_sort_ratio(mine, other["key"].split("|", 1)[0])
        if score >= NAME_MATCH:
            out.append({"id": other_id, "label": other["label"], "score": round(score),
                        "why": f"name {other['label']!r} alike ({score:.0f}/100); date of birth "
                               f"{other['attrs'].get('dob') or 'unknown'} vs {record['attrs'].get('dob') or 'unknown'}"})
            if len(out) >= limit:
                break
    return out


# -- analyst decisions (audited by the caller) --------------------------------------------------------------
def _note(record: dict[str, Any], action: str, by: str, reason: str) -> None:
    record.setdefault("history", []).append({"action": action, "by": by, "at": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reason": reason[:300]})


def confirm(client: redis.Redis, entity_id: str, *, by: str, reason: str = "") -> dict[str, Any]:
    record = load(client, entity_id)
    if record is None:
        raise NotFound(f"no entity {entity_id[:60]!r}")
    record["confirmed"] = True
    _note(record, "confirm", by, reason or "resolution confirmed")
    client.set(EntityKeys.entity(record["id"]), orjson.dumps(record))
    return record


def merge(client: redis.Redis, keep_id: str, other_id: str, *, by: str, reason: str) -> dict[str, Any]:
    """Make ``other_id`` part of ``keep_id``: its mentions move, its id becomes an alias."""
    keep, other = load(client, keep_id), load(client, other_id)
    if keep is None or other is None:
        raise NotFound(f"no entity {(other_id if keep else keep_id)[:60]!r}")
    if keep["id"] == other["id"]:
        raise Invalid("other: the two are already one entity")
    if keep["type"] != other["type"]:
        raise Invalid(f"other: a {other['type']} cannot be merged into a {keep['type']}")
    moved = client.hgetall(EntityKeys.mentions(other["id"]))
    _note(keep, "merge", by, f"merged {other['id']} ({other['label']}): {reason}")
    with client.pipeline() as pipe:
        for mention_id, raw in moved.items():
            row = orjson.loads(raw)
            row["why"] = f"merged by {by}: {reason[:120]}"
            pipe.hset(EntityKeys.mentions(keep["id"]), mention_id, orjson.dumps(row))
            pipe.srem(EntityKeys.report_entities(row["report"]), other["id"])
            pipe.sadd(EntityKeys.report_entities(row["report"]), keep["id"])
        pipe.set(EntityKeys.by_key(other["type"], other["key"]), keep["id"])
        pipe.set(EntityKeys.alias(other["id"]), keep["id"])
        pipe.delete(EntityKeys.entity(other["id"]), EntityKeys.mentions(other["id"]))
        pipe.zrem(EntityKeys.ENTITIES, other["id"])
        if other["attrs"].get("dob"):
            pipe.srem(EntityKeys.by_dob(other["attrs"]["dob"]), other["id"])
        pipe.set(EntityKeys.entity(keep["id"]), orjson.dumps(keep))
        pipe.execute()
    return keep


def split(client: redis.Redis, entity_id: str, mention_ids: list[str], *, by: str, reason: str) -> dict[str, Any]:
    """Take mentions out of an entity into a new one (they were not the same)."""
    record = load(client, entity_id)
    if record is None:
        raise NotFound(f"no entity {entity_id[:60]!r}")
    stored = client.hgetall(EntityKeys.mentions(record["id"]))
    wanted = [m.encode() for m in mention_ids]
    missing = [m for m in mention_ids if m.encode() not in stored]
    if not mention_ids or missing:
        raise Invalid(f"mentions: {missing[0] if missing else 'none given'!r} is not a mention of this entity")
    if len(wanted) == len(stored):
        raise Invalid("mentions: leave at least one mention in the entity (split takes some out)")
    first = orjson.loads(stored[wanted[0]])
    new_id = new_entity_id(record["type"])
    label = first["raw"] if record["type"] in ("person", "organisation", "address") else record["label"]
    new = {"id": new_id, "type": record["type"], "key": record["key"], "label": label,
           "attrs": first.get("attrs") or {}, "created": time.time(), "confirmed": True, "history": []}
    _note(new, "split", by, f"split from {record['id']}: {reason}")
    _note(record, "split", by, f"{len(wanted)} mention(s) taken out into {new_id}: {reason}")
    with client.pipeline() as pipe:
        for mention_id in wanted:
            row = orjson.loads(stored[mention_id])
            row["why"] = f"split by {by}: {reason[:120]}"
            pipe.hdel(EntityKeys.mentions(record["id"]), mention_id)
            pipe.hset(EntityKeys.mentions(new_id), mention_id, orjson.dumps(row))
            pipe.sadd(EntityKeys.report_entities(row["report"]), new_id)
        pipe.set(EntityKeys.entity(new_id), orjson.dumps(new))
        pipe.set(EntityKeys.entity(record["id"]), orjson.dumps(record))
        pipe.zadd(EntityKeys.ENTITIES, {new_id: new["created"]})
        pipe.execute()
    # A report still linked to the old entity only if another of its mentions stays there.
    remaining = {orjson.loads(v)["report"] for v in client.hvals(EntityKeys.mentions(record["id"]))}
    for mention_id in wanted:
        report_id = orjson.loads(stored[mention_id])["report"]
        if report_id not in remaining:
            client.srem(EntityKeys.report_entities(report_id), record["id"])
    return new


def forget_report(client: redis.Redis, report_id: str) -> list[str]:
    """Remove a report's mentions; delete entities left with none. The ids of entities deleted."""
    held = report_entities(client, report_id)
    drop_mentions(client, report_id, held)
    client.delete(EntityKeys.report_entities(report_id))
    return drop_orphans(client, held)


def drop_mentions(client: redis.Redis, report_id: str, entity_ids: list[str]) -> None:
    for entity_id in entity_ids:
        key = EntityKeys.mentions(entity_id)
        stale = [m for m in client.hkeys(key) if m.decode().startswith(report_id + ":")]
        if stale:
            client.hdel(key, *stale)


def drop_orphans(client: redis.Redis, entity_ids: list[str]) -> list[str]:
    """Delete the entities among ``entity_ids`` that no mention holds any more; their ids."""
    gone = []
    for entity_id in entity_ids:
        key = EntityKeys.mentions(entity_id)
        if client.hlen(key):
            continue
        record = load(client, entity_id)
        with client.pipeline() as pipe:
            pipe.delete(EntityKeys.entity(entity_id), key)
            pipe.zrem(EntityKeys.ENTITIES, entity_id)
            pointer = EntityKeys.by_key(record["type"], record["key"]) if record is not None else ""
            if record is not None and client.get(pointer) == entity_id.encode():
                pipe.delete(pointer)
            if record is not None and record["attrs"].get("dob"):
                pipe.srem(EntityKeys.by_dob(record["attrs"]["dob"]), entity_id)
            pipe.execute()
        gone.append(entity_id)
    return gone


def linked_reports(client: redis.Redis, entity_id: str) -> list[str]:
    """The reports that mention an entity (annotations' mentions are left out: see linked_annotations)."""
    rows = (orjson.loads(v) for v in client.hvals(EntityKeys.mentions(entity_id)))
    return sorted({r["report"] for r in rows if r.get("report")})


def linked_annotations(client: redis.Redis, entity_id: str) -> list[dict[str, Any]]:
    """The annotation mentions of an entity: incident, marking (``tlp``), criminal intelligence or not."""
    rows = (orjson.loads(v) for v in client.hvals(EntityKeys.mentions(entity_id)))
    return [r for r in rows if r.get("incident") and not r.get("report")]


__all__ = ["TYPES", "Mention", "candidates", "confirm", "find", "forget_report", "linked_annotations", "linked_reports",
           "load", "mentions", "mentions_of", "merge", "plan", "split", "write"]
