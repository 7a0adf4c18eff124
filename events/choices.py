"""Controlled vocabularies shared by the models, the API and the admin."""

from django.db import models


class SourceKind(models.TextChoices):
    GOVERNMENT = "government", "Government"
    MILITARY = "military", "Military"
    INTELLIGENCE = "intelligence", "Intelligence agency"
    OFFICIAL = "official", "Official person"
    MEDIA = "media", "Media outlet"
    THINK_TANK = "think_tank", "Think tank"
    NGO = "ngo", "NGO"
    SOCIAL_MEDIA = "social_media", "Social media"
    OTHER = "other", "Other"


class Reliability(models.TextChoices):
    """NATO Admiralty scale for the reliability of a source."""

    A = "A", "A: completely reliable"
    B = "B", "B: usually reliable"
    C = "C", "C: fairly reliable"
    D = "D", "D: not usually reliable"
    E = "E", "E: unreliable"
    F = "F", "F: reliability cannot be judged"


class Credibility(models.IntegerChoices):
    """NATO Admiralty scale for the credibility of a piece of information."""

    CONFIRMED = 1, "1: confirmed by other sources"
    PROBABLY_TRUE = 2, "2: probably true"
    POSSIBLY_TRUE = 3, "3: possibly true"
    DOUBTFUL = 4, "4: doubtful"
    IMPROBABLE = 5, "5: improbable"
    CANNOT_BE_JUDGED = 6, "6: truth cannot be judged"


class Echelon(models.TextChoices):
    CONTINGENT = "contingent", "Contingent"
    ARMY = "army", "Army"
    CORPS = "corps", "Corps"
    DIVISION = "division", "Division"
    BRIGADE = "brigade", "Brigade"
    REGIMENT = "regiment", "Regiment"
    BATTALION = "battalion", "Battalion"
    COMPANY = "company", "Company"
    OTHER = "other", "Other"


class UnitStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPLOYED = "deployed", "Deployed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    DESTROYED = "destroyed", "Destroyed"
    DISBANDED = "disbanded", "Disbanded"
    UNKNOWN = "unknown", "Unknown"


class EventType(models.TextChoices):
    DEPLOYMENT = "deployment", "Deployment"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    COMBAT = "combat", "Combat"
    STRIKE = "strike", "Strike"
    CAPTURE = "capture", "Capture"
    STATEMENT = "statement", "Statement"
    TRAINING = "training", "Training"
    OTHER = "other", "Other"


class DatePrecision(models.TextChoices):
    """How exactly a date or interval is known ("mid-January" is approximate)."""

    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    YEAR = "year", "Year"
    APPROXIMATE = "approximate", "Approximate"


class LocationPrecision(models.TextChoices):
    """How exactly the coordinates locate the place (after UCDP's where_prec)."""

    EXACT = "exact", "Exact location"
    NEAR = "near", "Within about 25 km"
    ADMIN2 = "admin2", "Second-order administrative unit"
    ADMIN1 = "admin1", "First-order administrative unit"
    REGION = "region", "Larger than a first-order unit"
    COUNTRY = "country", "Country"
    INTERNATIONAL = "international", "International waters or airspace"


class UnitRole(models.TextChoices):
    PARTICIPANT = "participant", "Participant"
    ATTACKER = "attacker", "Attacker"
    TARGET = "target", "Target"
    AFFECTED = "affected", "Affected"
    OTHER = "other", "Other"


class CasualtyCategory(models.TextChoices):
    """What kind of losses: of personnel, of materiel (with an equipment type), or either."""

    KILLED = "killed", "Killed"
    WOUNDED = "wounded", "Wounded"
    CAPTURED = "captured", "Captured"
    MISSING = "missing", "Missing"
    CASUALTIES = "casualties", "Casualties (killed and wounded)"
    DESTROYED = "destroyed", "Destroyed (equipment)"
    DAMAGED = "damaged", "Damaged (equipment)"
    ABANDONED = "abandoned", "Abandoned (equipment)"
    UNSPECIFIED = "unspecified", "Mixed or unspecified losses"


# Losses only equipment suffers, and losses only personnel suffer; captured and unspecified are either.
EQUIPMENT_CATEGORIES = (CasualtyCategory.DESTROYED, CasualtyCategory.DAMAGED, CasualtyCategory.ABANDONED)
PERSONNEL_CATEGORIES = (
    CasualtyCategory.KILLED,
    CasualtyCategory.WOUNDED,
    CasualtyCategory.MISSING,
    CasualtyCategory.CASUALTIES,
)


class Losses(models.TextChoices):
    PERSONNEL = "personnel", "Personnel"
    EQUIPMENT = "equipment", "Equipment"


class EquipmentType(models.TextChoices):
    """What kind of materiel an equipment loss is of."""

    TANK = "tank", "Tank"
    AFV = "afv", "Armoured fighting vehicle"
    IFV = "ifv", "Infantry fighting vehicle"
    APC = "apc", "Armoured personnel carrier"
    ARTILLERY = "artillery", "Artillery"
    MRL = "mrl", "Multiple rocket launcher"
    AIR_DEFENCE = "air_defence", "Air defence"
    AIRCRAFT = "aircraft", "Aircraft"
    HELICOPTER = "helicopter", "Helicopter"
    DRONE = "drone", "Drone"
    NAVAL_VESSEL = "naval_vessel", "Naval vessel"
    VEHICLE = "vehicle", "Vehicle"
    OTHER = "other", "Other"


class FigureKind(models.TextChoices):
    COUNT = "count", "Count"
    ESTIMATE = "estimate", "Estimate"
    PROJECTION = "projection", "Projection"
    DENIAL = "denial", "Denial"


class CitationRole(models.TextChoices):
    CLAIMED_BY = "claimed_by", "Claimed by"
    REPORTED_BY = "reported_by", "Reported by"
    CONFIRMED_BY = "confirmed_by", "Confirmed by"
    DISPUTED_BY = "disputed_by", "Disputed by"


class LinkRelation(models.TextChoices):
    """How one claim bears on an earlier one: the newer claim is the link's ``from`` side."""

    CONFIRMS = "confirms", "Confirms"
    DISPUTES = "disputes", "Disputes"
    SUPERSEDES = "supersedes", "Supersedes"
    REVISES = "revises", "Revises"
    RETRACTS = "retracts", "Retracts"


class ClaimStatus(models.TextChoices):
    """Where a claim stands, derived from its citations and the links pointing at it.

    The first that applies wins: retracted, superseded (or revised), disputed, confirmed, claimed.
    """

    CLAIMED = "claimed", "Claimed"
    CONFIRMED = "confirmed", "Confirmed"
    DISPUTED = "disputed", "Disputed"
    SUPERSEDED = "superseded", "Superseded"
    RETRACTED = "retracted", "Retracted"


class ConsensusGrade(models.TextChoices):
    """How much the standing claims about a subject agree (events/consensus.py gives the rules)."""

    NONE = "none", "No claim stands"
    UNQUANTIFIED = "unquantified", "Unquantified: no standing claim has a figure"
    CONTESTED = "contested", "Contested: sources' ranges share no figure, a denial or a dispute"
    SINGLE_SOURCE = "single_source", "Single source"
    CORROBORATED = "corroborated", "Corroborated: sources agree, one independent, one usually reliable"
    CONSISTENT = "consistent", "Consistent: the sources' ranges share a figure"


class Interval(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week (Monday to Sunday)"
    MONTH = "month", "Month"
    YEAR = "year", "Year"
