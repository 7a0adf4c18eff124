"""Equipment losses: casualty reports of materiel, with an equipment type, the system's name and visual evidence."""

import csv
import datetime
import io
import json
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from events.models import CasualtyReport, Citation

from .factories import make_report, make_source

pytestmark = pytest.mark.django_db

D = datetime.date
IMAGE = "https://i.postimg.cc/prhtMJt6/gg4.jpg"


def loss(source, *, role="claimed_by", published=None, evidence_url="", **fields):
    fields = {
        "country": "RU",
        "category": "destroyed",
        "equipment_type": "tank",
        "kind": "count",
        "best": 1,
        **fields,
    }
    report = CasualtyReport.objects.create(**fields)
    Citation.objects.create(
        casualty_report=report, source=source, role=role, published_date=published, evidence_url=evidence_url
    )
    return report


def new_loss(**fields):
    source = make_source(name="Oryx", reliability="B")
    return {
        "country": "RU",
        "category": "abandoned",
        "equipment_type": "tank",
        "equipment_name": "T-72B3 obr. 2016",
        "kind": "count",
        "best": 1,
        "as_of_date": "2022-05-27",
        "citations": [
            {
                "source": source.pk,
                "role": "confirmed_by",
                "url": "https://www.oryxspioenkop.com/2022/02/attack-on-europe-documenting-equipment.html",
                "evidence_url": IMAGE,
            }
        ],
        **fields,
    }


def test_an_equipment_loss_is_created_and_read_with_its_evidence(curator_api, api):
    response = curator_api.post("/api/casualty-reports/", new_loss(), format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    detail = api.get(f"/api/casualty-reports/{response.json()['id']}/").json()
    assert (detail["category"], detail["equipment_type"], detail["equipment_name"]) == (
        "abandoned",
        "tank",
        "T-72B3 obr. 2016",
    )
    assert detail["citations"][0]["evidence_url"] == IMAGE
    # The list (PostgreSQL writes its JSON) says the same as the detail.
    (listed,) = api.get("/api/casualty-reports/?losses=equipment").json()["results"]
    assert listed == detail


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"equipment_type": ""}, "equipment_type"),  # abandoned needs a type
        ({"category": "killed"}, "equipment_type"),  # personnel losses have none
        ({"category": "killed", "equipment_type": "", "equipment_name": "T-72B3"}, "equipment_type"),
        ({"equipment_type": "battleship"}, "equipment_type"),
        ({"category": "scrapped"}, "category"),
    ],
)
def test_a_loss_that_does_not_fit_its_kind_of_losses_is_a_400_naming_the_field(curator_api, fields, field):
    response = curator_api.post("/api/casualty-reports/", new_loss(**fields), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json(), response.json()
    assert not CasualtyReport.objects.exists()


def test_captured_is_a_loss_of_personnel_or_of_equipment(curator_api):
    for fields in ({"category": "captured"}, {"category": "captured", "equipment_type": "", "equipment_name": ""}):
        response = curator_api.post("/api/casualty-reports/", new_loss(**fields), format="json")
        assert response.status_code == HTTPStatus.CREATED, response.json()


def test_the_database_refuses_equipment_losses_without_a_type():
    report = loss(make_source())
    with pytest.raises(IntegrityError), transaction.atomic():
        CasualtyReport.objects.filter(pk=report.pk).update(equipment_type="")
    with pytest.raises(IntegrityError), transaction.atomic():
        CasualtyReport.objects.filter(pk=report.pk).update(category="killed")
    report.refresh_from_db()
    assert (report.category, report.equipment_type) == ("destroyed", "tank")


def test_filters_pick_losses_of_personnel_or_equipment_and_types(api):
    source = make_source()
    tank = loss(source, equipment_name="T-80BV")
    truck = loss(source, equipment_type="vehicle", equipment_name="KamAZ 6x6", category="abandoned")
    dead = make_report(citations=[(source, "claimed_by")], country="RU")

    def ids(query):
        response = api.get(f"/api/casualty-reports/?{query}")
        assert response.status_code == HTTPStatus.OK, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("losses=equipment") == {tank.pk, truck.pk}
    assert ids("losses=personnel") == {dead.pk}
    assert ids("equipment_type=tank") == {tank.pk}
    assert ids("equipment_type__in=tank,vehicle") == {tank.pk, truck.pk}
    assert ids("equipment_name__icontains=kamaz") == {truck.pk}
    assert ids("category=abandoned") == {truck.pk}
    assert ids("ordering=equipment_type") and ids("ordering=-equipment_type")
    for bad in ("losses=materiel", "equipment_type=battleship"):
        response = api.get(f"/api/casualty-reports/?{bad}")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert bad.split("=")[0] in response.json()


def test_consensus_compares_each_sources_totals_of_a_type_and_leaves_out_items(api):
    general_staff = make_source(name="General Staff", kind="military", reliability="C", party=True)
    oryx = make_source(name="Oryx", reliability="B")
    loss(general_staff, best=12251, as_of_date=D(2026, 8, 8), period_start=D(2022, 2, 24))
    loss(oryx, best=4100, as_of_date=D(2026, 8, 1), period_start=D(2022, 2, 24))
    loss(oryx, best=1, equipment_name="T-72B3", as_of_date=D(2026, 8, 2))  # an item, not a total
    loss(general_staff, best=2009, equipment_type="mrl", as_of_date=D(2026, 8, 8))
    make_report(citations=[(general_staff, "claimed_by")], country="RU", category="killed", best=1000)

    response = api.get("/api/consensus/?country=RU&losses=equipment&as_of=2026-08-10")
    assert response.status_code == HTTPStatus.OK, response.json()
    subjects = {row["subject"]["equipment_type"]: row for row in response.json()["results"]}
    assert set(subjects) == {"tank", "mrl"}
    (tanks,) = subjects["tank"]["periods"]
    assert subjects["tank"]["subject"]["category"] == "destroyed"
    assert sorted(claim["best"] for claim in tanks["claims"]) == [4100, 12251]
    assert tanks["grade"] == "contested"
    assert tanks["envelope"] == {"low": 4100, "high": 12251}

    tanks_only = api.get("/api/consensus/?country=RU&category=destroyed&equipment_type=tank&as_of=2026-08-10")
    assert [row["subject"]["equipment_type"] for row in tanks_only.json()["results"]] == ["tank"]
    personnel = api.get("/api/consensus/?country=RU&losses=personnel&as_of=2026-08-10").json()["results"]
    assert [(row["subject"]["category"], row["subject"]["equipment_type"]) for row in personnel] == [("killed", "")]


def test_history_keeps_the_equipment_fields(curator_api):
    created = curator_api.post("/api/casualty-reports/", new_loss(), format="json").json()
    etag = curator_api.get(f"/api/casualty-reports/{created['id']}/")["ETag"]
    response = curator_api.patch(
        f"/api/casualty-reports/{created['id']}/",
        {"category": "captured", "equipment_name": "T-72B3"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    history = CasualtyReport.history.filter(id=created["id"]).order_by("history_date")
    assert [(h.category, h.equipment_name) for h in history] == [
        ("abandoned", "T-72B3 obr. 2016"),
        ("captured", "T-72B3"),
    ]


def test_a_claims_csv_round_trip_keeps_equipment_and_evidence(tmp_path):
    loss(make_source(slug="oryx"), equipment_name="BMP-1(P)", evidence_url=IMAGE, external_id="oryx:7-3174")
    exported = tmp_path / "claims.csv"
    call_command("export_csv", str(exported), stdout=io.StringIO())
    row = next(csv.DictReader(exported.open(encoding="utf-8")))
    assert (row["equipment_type"], row["equipment_name"], row["citation1_evidence_url"]) == ("tank", "BMP-1(P)", IMAGE)

    CasualtyReport.objects.update(equipment_name="BMP-2")
    Citation.objects.update(evidence_url="")
    call_command("import_csv", str(exported), stdout=io.StringIO(), stderr=io.StringIO())
    report = CasualtyReport.objects.get(external_id="oryx:7-3174")
    assert report.equipment_name == "BMP-1(P)"
    assert report.citations.get().evidence_url == IMAGE


def test_a_claims_csv_loss_without_a_type_is_a_row_report(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(
        "report_id,event_id,country,category,equipment_type,equipment_name,kind,low,best,high,as_of_date,"
        "period_start,horizon_date,date_precision,date_text,credibility,description,unit,unit_country,"
        "event_title,event_type,event_start_date,event_end_date,event_date_precision,event_date_text,"
        "event_expected,event_place_name,event_admin1,event_country,event_latitude,event_longitude,"
        "event_location_precision,event_personnel_low,event_personnel_best,event_personnel_high,event_description\n"
        "r1,,RU,destroyed,,T-90M,count,,1,,2024-01-05,,,day,,2,,,,,,,,,,,,,,,,,,,,\n"
        "r2,,RU,destroyed,tank,T-90M,count,,1,,2024-01-05,,,day,,2,,,,,,,,,,,,,,,,,,,,\n",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    call_command("import_csv", str(path), stdout=out, stderr=err)
    assert "line 2" in (out.getvalue() + err.getvalue()).lower()
    assert "equipment_type" in out.getvalue() + err.getvalue()
    assert list(CasualtyReport.objects.values_list("external_id", flat=True)) == ["r2"]


def test_stix_carries_the_equipment_and_the_evidence(api):
    loss(make_source(), equipment_name="T-90M", evidence_url=IMAGE)
    response = api.get("/api/casualty-reports/?format=stix")
    assert response.status_code == HTTPStatus.OK
    body = json.loads(b"".join(response.streaming_content) if response.streaming else response.content)
    (note,) = [item for item in body["objects"] if item["type"] == "note"]
    (extension,) = note["extensions"].values()
    assert (extension["equipment_type"], extension["equipment_name"]) == ("tank", "T-90M")
    assert IMAGE in json.dumps(body)


def test_the_admin_filters_and_edits_equipment_losses(staff_client):
    report = loss(make_source(), equipment_name="T-90M")
    page = staff_client.get("/admin/events/casualtyreport/?equipment_type__exact=tank")
    assert page.status_code == HTTPStatus.OK
    assert "T-90M" in page.content.decode()
    change = staff_client.get(f"/admin/events/casualtyreport/{report.pk}/change/")
    assert change.status_code == HTTPStatus.OK
    assert 'name="equipment_name"' in change.content.decode()
    assert 'name="citations-0-evidence_url"' in change.content.decode()


def test_the_rule_is_enforced_on_this_database_by_name():
    """The rule is the same check on both databases, reported under the constraint's name."""
    report = loss(make_source())
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE events_casualtyreport SET equipment_name = 'x', equipment_type = '' WHERE id = %s", [report.pk]
            )
    assert "casualtyreport_equipment_category" in str(error.value)
