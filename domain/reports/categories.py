"""The ISE-SAR Functional Standard 1.5.5 behaviour categories, by their NIEM SAR codes.

Seven are *defined criminal activity and potential terrorism nexus activity*; nine are *potential
criminal or non-criminal activity requiring additional fact information during vetting*. A report is
written against one; the code is the stored value, the title what screens show.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    title: str
    criminal: bool  # defined criminal activity (True) or needs more facts during vetting (False)
    meaning: str


CATEGORIES: tuple[Category, ...] = (
    Category("INTRSN", "Breach/Attempted Intrusion", True,
             "Unauthorised people trying to enter or entering a restricted area or facility."),
    Category("MISREP", "Misrepresentation", True,
             "Presenting false credentials, uniforms or documents to cover possible illicit activity."),
    Category("THEFT", "Theft/Loss/Diversion", True,
             "Stealing or diverting things belonging to a facility: badges, uniforms, blueprints, vehicles."),
    Category("SABOT", "Sabotage/Tampering/Vandalism", True,
             "Damaging, manipulating or defacing part of a facility or protected site."),
    Category("CYBER", "Cyberattack", True,
             "Compromising or attempting to compromise an organisation's information technology."),
    Category("THREAT", "Expressed or Implied Threat", True,
             "Communicating a spoken or written threat to harm people or damage a facility."),
    Category("AVIATION", "Aviation Activity", True,
             "Operating or interfering with an aircraft in a way that poses a threat or breaks the law."),
    Category("ELICIT", "Eliciting Information", False,
             "Questioning beyond mere curiosity about a facility's purpose, operations or security."),
    Category("TESTSEC", "Testing or Probing of Security", False,
             "Deliberate interactions with or challenges to security to reveal its physical or cyber limits."),
    Category("RECRUT", "Recruiting/Financing", False,
             "Building operations teams and contacts, or providing money for a terrorist activity."),
    Category("PHOTO", "Photography", False,
             "Taking pictures or video of facilities or infrastructure in a manner that would arouse suspicion."),
    Category("SURVL", "Observation/Surveillance", False,
             "Unusually prolonged attention to a facility: notes, measuring distances, pacing, counting."),
    Category("MATRLS", "Materials Acquisition/Storage", False,
             "Acquiring or storing unusual quantities of materials such as precursors, cell phones, radios."),
    Category("EXPERT", "Acquisition of Expertise", False,
             "Seeking skills or knowledge for no evident reason: military tactics, explosives, security systems."),
    Category("WPNS", "Weapons Collection/Discovery", False,
             "Collecting or discovering unusual amounts or types of weapons, including explosives."),
    Category("SECTOR", "Sector-Specific Incident", False,
             "Actions tied to a specific sector (e.g. stadiums, transit) with potential criminal intent."),
)

BY_CODE = {c.code: c for c in CATEGORIES}
CRIMINAL = frozenset(c.code for c in CATEGORIES if c.criminal)

# Critical infrastructure sectors (the sixteen of PPD-21) plus the mass gatherings a fusion center protects.
SECTORS: tuple[str, ...] = (
    "Chemical", "Commercial Facilities", "Communications", "Critical Manufacturing", "Dams",
    "Defense Industrial Base", "Emergency Services", "Energy", "Financial Services", "Food and Agriculture",
    "Government Facilities", "Healthcare and Public Health", "Information Technology",
    "Nuclear Reactors, Materials and Waste", "Transportation Systems", "Water and Wastewater Systems",
    "Mass Gatherings", "Other",
)


def category_code(value: object) -> str | None:
    """The NIEM code for a code or a title, whatever its case; None when it is neither."""
    text = str(value or "").strip()
    if text.upper() in BY_CODE:
        return text.upper()
    folded = text.casefold()
    for category in CATEGORIES:
        titles = {category.title.casefold(), *(t.strip().casefold() for t in category.title.split("/"))}
        if folded in titles:
            return category.code
    return None
