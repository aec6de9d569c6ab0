"""The event model: a copy is validated again only when its checked fields change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.model import Event, InvalidEvent, Kind


def test_replace_validates_what_it_must_and_copies_the_rest() -> None:
    event = Event(id="usgs:a", source="usgs", kind=Kind.EARTHQUAKE, title="M 4", time=datetime(2026, 1, 1, tzinfo=UTC),
                  lat=35.6, lon=-117.7)
    renamed = event.replace(feed="q", place="near X", extra={"k": 1})
    assert (renamed.feed, renamed.place, renamed.extra, renamed.lat) == ("q", "near X", {"k": 1}, event.lat)
    assert renamed == Event(**{**{f: getattr(event, f) for f in event.__dataclass_fields__},
                               "feed": "q", "place": "near X", "extra": {"k": 1}})
    assert renamed.fingerprint() != event.fingerprint() and event.feed == ""
    with pytest.raises(InvalidEvent, match="out of range"):
        event.replace(lat=95.0)
    with pytest.raises(InvalidEvent, match="lat and lon"):
        event.replace(lon=None)
    with pytest.raises(TypeError):
        event.replace(nonsense=1)


def test_owner_and_sharing_travel_with_the_report_and_stay_absent_when_public() -> None:
    from datetime import UTC, datetime

    from feeds.model import Event, Kind

    public = Event(id="a", source="s", kind=Kind.NEWS, title="t", time=datetime(2026, 4, 20, tzinfo=UTC))
    assert "agency" not in public.to_dict() and "sharing" not in public.to_dict()
    owned = public.replace(agency="MBTA", sharing="own")
    again = Event.from_json(owned.to_json())
    assert (again.agency, again.sharing) == ("MBTA", "own")
