"""Cross-source correlation: many reports of one happening become one :class:`Incident`.

Native identity (the same event id re-polled) is handled by idempotent ingest; this module fuses
reports that come from *different* sources or formats: the same earthquake from USGS, GDACS, EMSC
and a news wire. Pure: no Redis, no Dash. The lead persists the events and :attr:`Correlator.overrides`
and calls :meth:`Correlator.rebuild` on start.

How a report is read (:func:`facts_of`)
    Adapters give ``Event.time`` with different meanings: USGS/QuakeML/GDACS give the *origin*
    time, RSS/Atom and CAP give the *publication* time (USGS Atom: 2 min after origin, EMSC RSS: up
    to 36 min, USGS CAP ``sent``: 5 h 44 min in the corpus). So the origin time is read from the
    structured field where the format has one, else from the text ("2020-12-30 21:37:51.0 UTC",
    "at 23:25:40.68 UTC on Aug 30, 2010", CAP ``onset``); otherwise only bounds are known: the
    happening lies in ``[published - pub_window, published + 2 min]``. The magnitude is read from
    the text when the adapter had no field for it ("ML 2.2", "EQ 6.3", "Magnitude 6.1", "6.1-magnitude").
    Network ids are identity keys: USGS GeoJSON/CSV ``id`` and ``ids``, Atom ``urn:earthquake-usgs-gov``
    guids, USGS CAP identifiers and event-page links, so the USGS Atom and CAP reports of ``us2010apcd``
    fuse although they are 5 h 44 min and 1.0 magnitude apart.

Decision (:func:`should_merge`), in order
    1. an operator rule (split = never, merge = always);
    2. a shared identity key: merge;
    3. vetoes: both sides carry USGS ids and none is shared (USGS associates its own duplicates);
       two catalogue reports (seismic networks, GDACS, CAP, or an RSS item stating origin, place and
       magnitude such as EMSC's) from the same feed with different ids (the feed itself says they are
       different happenings);
    4. the physical score :func:`similarity` >= :data:`MERGE_THRESHOLD`.

Score
    Kinds must agree; a news report takes the kind its title/text names (hazard words, or a stated
    magnitude for earthquakes); a pure news story with no hazard is never fused by score. Each
    available quantity adds a squared z-score against the typical disagreement between two networks
    (its *scale*); a missing quantity adds a fixed penalty; text adds ``((1 - containment) * text_z)^2``
    (containment = shared tokens / tokens of the shorter side, stop-words, numbers and generic hazard
    words removed) for kinds where text matters, and for earthquakes only when the place or origin
    time is missing. ``similarity = 1 / (1 + z2 / 9)``: 0.5 means "three sigma". Gates (beyond them
    the score is 0) only prune: time gate, radius, magnitude gate.

Thresholds and how they were chosen (``python -m bench.fusion_bench`` prints the numbers)
    Earthquake scales: origin time 15 s, distance 30 km, magnitude 0.3: the disagreement between two
    networks' solutions of one quake (origins seconds apart, epicentres 10-50 km apart for remote
    events, magnitudes of different types 0.2-0.4 apart); the synthetic positives are drawn from the
    same envelope (dt <= 30 s, <= 30 km, +-0.3). Gates: 120 s, 150 km, magnitude 1.0; a report with
    no stated origin time must agree on magnitude within 0.3 (agencies' magnitudes of one quake agree
    that well; a news report of an aftershock 0.5 smaller must not join the main shock).
    Labelled set (bench/fusion/pairs.jsonl, 5,186 pairs: 901 from the corpus, 4,285 synthetic built
    on corpus quakes): precision 0.9995 and recall 0.955 for every MERGE_THRESHOLD from 0.30 to 0.55
    (the score is bimodal: gated pairs score 0, matching ones 0.55-1.0); at 0.60 recall falls to 0.81.
    0.5 sits inside that plateau. Aftershocks are the hard negatives: the corpus EMSC Petrinja sequence
    and California swarms give pairs 1-3 min apart within 20 km and 0.2 magnitude; 120 s is already
    z = 8. What the data also showed: the 2013 USGS feed lists many quakes twice under CI's old and new
    id schemes (0-10 s, < 2 km apart); the same-feed veto keeps such pairs apart (conservative), and
    they are left unlabelled in the pair set. Remaining misses: a news report naming only a town
    against a GDACS alert naming only the country (no gazetteer here); at incident level they usually
    join through the USGS report, but in a sequence with a same-size aftershock minutes later an
    unplaced, untimed news report may attach to the aftershock.
    Publication-only reports: the happening may precede publication by up to 12 h (news), penalty
    z = 1.5; an unplaced report pays z = 2 and must share half of its place tokens; geocoded positions
    (``placed_by`` set) are 3x less precise (scale 90 km, radius >= 250 km).
    Other kinds (weather, flood, fire, cyclone...) use conservative rules written from their formats,
    NOT validated on labelled data (the corpus has no cross-source pairs for them): overlapping
    validity/duration, a radius, and a required text containment.

Incident fields
    ``id`` "inc:" + the first report's id (kept by a merge's older side, and by the remainder of a
    split); ``title`` from the most authoritative report (USGS/QuakeML/CAP/NWS 3, GDACS/EMSC-like 2,
    ReliefWeb 1, news 0; ties: first to arrive); ``lat``/``lon`` from the most precise (document
    coordinates over geocoded, then authority); ``time`` the earliest origin (else earliest report
    time); ``magnitude`` the latest (by ``updated``/``time``) among the most authoritative reports
    that give one; ``severity`` the maximum. Each :class:`Report` lists which incident fields it
    supplied.
"""

from feeds.fuse.correlator import Correlator
from feeds.fuse.facts import (
    Facts,
    facts_of,
    identity_keys,
    magnitude_in,
    origin_in,
    text_similarity,
    tokens_of,
    topic_of,
)
from feeds.fuse.incident import Incident, Report
from feeds.fuse.rules import MERGE_THRESHOLD, RULES, OverrideError, Rule, rule_for
from feeds.fuse.scoring import haversine_km, score_facts, should_merge, similarity

__all__ = ['Correlator', 'Facts', 'Incident', 'MERGE_THRESHOLD', 'OverrideError', 'RULES', 'Report', 'Rule', 'facts_of', 'haversine_km', 'identity_keys', 'magnitude_in', 'origin_in', 'rule_for', 'score_facts', 'should_merge', 'similarity', 'text_similarity', 'tokens_of', 'topic_of']
