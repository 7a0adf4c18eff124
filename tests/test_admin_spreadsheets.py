"""Staff import and export spreadsheets in the admin, with the API's validation."""

import re
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from events.models import CasualtyReport, Source

from .factories import make_report, make_source, make_unit

pytestmark = pytest.mark.django_db


def csv_format_index(page):
    """The value of the CSV option in the import/export form's format select."""
    match = re.search(r'<option value="(\d+)"[^>]*>csv</option>', page.content.decode())
    assert match, "the form offers CSV"
    return match.group(1)


def upload(client, model, text):
    url = f"/admin/events/{model}/import/"
    page = client.get(url)
    assert page.status_code == HTTPStatus.OK
    return client.post(
        url,
        {"format": csv_format_index(page), "import_file": SimpleUploadedFile("rows.csv", text.encode(), "text/csv")},
    )


def confirm(client, model, preview):
    fields = dict(
        re.findall(
            r'name="(import_file_name|original_file_name|format|resource)" value="([^"]*)"', preview.content.decode()
        )
    )
    assert "import_file_name" in fields, "the preview offers to confirm"
    return client.post(f"/admin/events/{model}/process_import/", fields)


def test_import_sources_from_a_spreadsheet(staff_client):
    existing = make_source(name="NIS", slug="nis", reliability="C")
    text = (
        "id,name,slug,kind,country,homepage,description,reliability\n"
        f"{existing.pk},National Intelligence Service,nis,intelligence,KR,,,B\n"
        ",Institute for the Study of War,isw,think_tank,US,https://www.understandingwar.org/,,B\n"
    )
    preview = upload(staff_client, "source", text)
    assert preview.status_code == HTTPStatus.OK
    assert Source.objects.count() == 1, "nothing is written before the curator confirms"
    confirm(staff_client, "source", preview)
    existing.refresh_from_db()
    assert (existing.name, existing.reliability) == ("National Intelligence Service", "B")
    assert Source.objects.get(slug="isw").kind == "think_tank"
    assert existing.history.first().history_user.username == "admin", "imports are in the edit history"


def test_invalid_rows_are_reported_and_nothing_is_saved(staff_client):
    unit = make_unit()
    text = (
        "id,country,unit,event,category,low,best,high,kind,as_of_date,period_start,horizon_date,"
        "date_precision,date_text,credibility,description,external_id\n"
        f",KP,{unit.pk},,killed,10,20,30,count,2025-01-09,,,day,,3,fine,\n"
        f",KP,{unit.pk},,killed,5000,,4000,count,2025-01-09,,,day,,3,low above high,\n"
        f",KP,{unit.pk},,killed,1,,,rumour,2025-01-09,,,day,,3,bad kind,\n"
    )
    page = upload(staff_client, "casualtyreport", text).content.decode()
    assert "is less than its low" in page
    assert "rumour" in page
    assert "import_file_name" not in page, "an import with errors cannot be confirmed"
    assert not CasualtyReport.objects.exists()


def test_export_a_spreadsheet(staff_client):
    make_report(best=4000, description="Ramstein")
    page = staff_client.get("/admin/events/casualtyreport/export/")
    assert page.status_code == HTTPStatus.OK
    response = staff_client.post(
        "/admin/events/casualtyreport/export/",
        {
            "format": csv_format_index(page),
            "resource": "0",
            "casualtyreportresource_id": "on",
            "casualtyreportresource_best": "on",
            "casualtyreportresource_description": "on",
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert "Ramstein" in response.content.decode()
    assert "4000" in response.content.decode()


def test_changelist_offers_import_export_and_deleted_records(staff_client):
    page = staff_client.get("/admin/events/event/").content.decode()
    assert "/admin/events/event/import/" in page
    assert "/admin/events/event/export/" in page
    assert "Deleted events" in page
