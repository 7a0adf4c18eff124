"""The admin staff curate with: every page renders, lists cost a fixed number of queries,
search and autocomplete find records, and forms save inlines or show the models' errors."""

import datetime
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events import choices
from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, Source, Unit, UnitPosition

from .factories import make_event, make_position, make_report, make_source, make_unit

REGISTERED = list(admin.site._registry)
EVENTS_MODELS = [model for model in REGISTERED if model._meta.app_label == "events"]


def model_id(model):
    return model._meta.label_lower


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def management_form(prefix, total):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def make_cited_event(source=None):
    return make_event(
        units=[make_unit(parent=make_unit(echelon=choices.Echelon.CORPS))],
        citations=[(source or make_source(), choices.CitationRole.REPORTED_BY)],
    )


def make_unit_only_report():
    """A report with no figure, so its summary names its unit: a per-row query if not joined."""
    return make_report(
        best=None,
        unit=make_unit(parent=make_unit(echelon=choices.Echelon.CORPS)),
        event=make_event(),
        citations=[(make_source(), choices.CitationRole.CLAIMED_BY)],
    )


def make_cited_source():
    source = make_source()
    make_cited_event(source)
    return source


def make_citation():
    return make_unit_only_report().citations.get()


# One row, with every relation its changelist shows, per model of the events app.
ROW_MAKERS = {
    Source: make_cited_source,
    Unit: lambda: make_unit(parent=make_unit(echelon=choices.Echelon.DIVISION), strength_low=1, strength_high=5),
    Event: make_cited_event,
    CasualtyReport: make_unit_only_report,
    Citation: make_citation,
    CasualtyReportLink: lambda: CasualtyReportLink.objects.create(
        from_claim=make_unit_only_report(),
        to_claim=make_unit_only_report(),
        relation="supersedes",
        source=make_source(),
    ),
    EventLink: lambda: EventLink.objects.create(
        from_claim=make_event(), to_claim=make_event(), relation="confirms", source=make_source()
    ),
    UnitPosition: lambda: make_position(unit=make_unit(parent=make_unit()), source=make_source(), strength="2 BTGs"),
}


def test_every_events_model_has_a_row_maker():
    assert set(ROW_MAKERS) == set(EVENTS_MODELS)


@pytest.fixture
def records(db):
    """At least one row of every model of the events app."""
    return {model: maker() for model, maker in ROW_MAKERS.items()}


@pytest.mark.parametrize("model", REGISTERED, ids=model_id)
def test_changelist_renders(staff_client, records, model):
    response = staff_client.get(admin_url(model, "changelist"))
    assert response.status_code == HTTPStatus.OK
    if model in records:
        assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", REGISTERED, ids=model_id)
def test_add_page_renders(staff_client, model):
    assert staff_client.get(admin_url(model, "add")).status_code == HTTPStatus.OK


@pytest.mark.parametrize("model", EVENTS_MODELS, ids=model_id)
def test_change_page_renders(staff_client, records, model):
    obj = records[model]
    response = staff_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == HTTPStatus.OK
    assert response.context["original"] == obj


@pytest.mark.parametrize("model", EVENTS_MODELS, ids=model_id)
def test_form_offers_every_editable_field(rf, model):
    """A field added to a model but left out of the admin's fieldsets could not be curated."""
    request = rf.get("/")
    request.user = User(is_superuser=True, is_staff=True)
    model_admin = admin.site._registry[model]
    shown = set(flatten_fieldsets(model_admin.get_fieldsets(request)))
    editable = {field.name for field in model._meta.concrete_fields if field.editable and not field.primary_key}
    assert editable <= shown
    assert {"created_at", "updated_at"} <= shown & set(model_admin.get_readonly_fields(request))


@pytest.mark.parametrize("model", EVENTS_MODELS, ids=model_id)
def test_changelist_queries_do_not_grow_with_rows(staff_client, model):
    make_row, url = ROW_MAKERS[model], admin_url(model, "changelist")
    make_row()
    staff_client.get(url)  # warm per-process caches, such as content types
    with CaptureQueriesContext(connection) as one_row:
        first = staff_client.get(url)
    for _ in range(29):
        make_row()
    with CaptureQueriesContext(connection) as many_rows:
        second = staff_client.get(url)
    assert second.context["cl"].result_count >= first.context["cl"].result_count + 29
    assert len(many_rows) == len(one_row), "\n".join(query["sql"] for query in many_rows.captured_queries)


@pytest.mark.parametrize("model", [Event, CasualtyReport, Citation, Source], ids=model_id)
def test_a_long_changelist_is_counted_no_further_than_the_api_counts(staff_client, monkeypatch, model):
    """Past the exact limit the count is the database's estimate (SQLite: a lower bound), and the
    page says so; below it, exact. No query counts the whole table."""
    from events.api import pagination

    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)
    make_row, url = ROW_MAKERS[model], admin_url(model, "changelist")
    for _ in range(3):
        make_row()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the estimate of an unfiltered list: the table's statistics
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    response = staff_client.get(url)
    plural = model._meta.verbose_name_plural
    assert response.context["cl"].result_count == model.objects.count()
    assert f"\n3 {plural}".encode() in response.content
    for _ in range(3):
        make_row()
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url)
    assert response.status_code == HTTPStatus.OK
    changelist = response.context["cl"]
    assert changelist.paginator.count_exact is False
    assert changelist.result_count >= 4
    assert f"about {changelist.result_count} {plural}".encode() in response.content
    counts = [query["sql"] for query in queries.captured_queries if query["sql"].upper().startswith("SELECT COUNT(*)")]
    assert counts and all("LIMIT 4" in sql for sql in counts), counts


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start_date__year": "2021"},
        {"start_date__year": "2021", "start_date__month": "3"},
        {"start_date__year": "2021", "start_date__month": "3", "start_date__day": "7"},
        {"country": "UA"},
        {"country": "SY"},
        {"q": "bridge"},
        {"q": "bridge", "start_date__year": "2021"},
        {"q": "bridge", "start_date__year": "2021", "start_date__month": "11"},
        {"q": "depot"},  # two years
        {"q": "convoy"},  # one day
        {"q": "bridge", "country": "SY"},  # two years, one of them a leap day
        {"q": "depot", "country": "UA"},  # one month, one day
        {"q": "nowhere"},
        {"country": "YE"},  # no events: no choices
    ],
)
def test_the_date_drilldown_offers_what_djangos_would(staff_client, params):
    """Probed by index, the years, months and days offered are those Django's scan finds."""
    from django.contrib.admin.templatetags.admin_list import date_hierarchy

    from events.templatetags.events_admin import probed_date_hierarchy

    for day, country, title in [
        ("2021-03-05", "UA", "Bridge"),
        ("2021-03-07", "UA", "Depot"),
        ("2021-11-30", "SY", "Bridge"),
        ("2023-01-02", "UA", "Convoy"),
        ("2024-12-31", "SY", "Bridge"),
        ("2024-02-29", "SY", "Depot"),
    ]:
        make_event(start_date=datetime.date.fromisoformat(day), country=country, title=title)
    response = staff_client.get(admin_url(Event, "changelist"), params)
    assert response.status_code == HTTPStatus.OK
    changelist = response.context["cl"]
    probed, djangos = probed_date_hierarchy(changelist), date_hierarchy(changelist)
    assert probed == djangos
    for choice in probed["choices"]:
        if "link" in choice:
            assert choice["link"].replace("&", "&amp;").encode() in response.content


@pytest.mark.parametrize(
    ("params", "titles", "reads"),
    [
        ({"q": "bridge"}, ["2021", "2022", "2023"], 2),
        ({"q": "bridge", "start_date__year": "2022"}, ["July 2022", "August 2022"], 3),
        ({"q": "bridge", "start_date__year": "2022", "start_date__month": "7"}, ["July 1", "July 9"], 3),
        ({"q": "bridge", "start_date__year": "2021"}, ["March 2021"], 3),
        ({"q": "depot"}, ["May 1"], 4),  # one year, one month: its months are read, then its days
        ({"q": "nowhere"}, [], 2),
    ],
)
@pytest.mark.django_db
def test_a_searched_lists_drilldown_reads_the_matches_once(staff_client, params, titles, reads):
    """On SQLite a search reads all its matches for each statement that names it: a searched
    list's drill-down reads them once for the first and last dates and the periods together
    (and once more for each level it has to go down), not once for each."""
    for day in ("2021-03-05", "2022-07-01", "2022-07-09", "2022-08-15", "2023-01-02"):
        make_event(start_date=datetime.date.fromisoformat(day), title="Bridge")
    make_event(start_date=datetime.date(2024, 5, 1), title="Depot")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(admin_url(Event, "changelist"), params)
    assert response.status_code == HTTPStatus.OK
    assert [choice["title"] for choice in probed_choices(response)] == titles
    if connection.vendor == "sqlite":
        # The page's ids and the periods, and the count beside a filter: the count of a search
        # alone is read from the index, and the page's rows by their ids alone.
        statements = [query["sql"] for query in queries.captured_queries]
        searches = [sql for sql in statements if "MATCH" in sql and 'FROM "events_event"' in sql]
        assert len(searches) == reads, searches


@pytest.mark.django_db
def test_a_searched_lists_later_pages_hold_the_next_matches_in_order(staff_client, monkeypatch):
    """A page's rows are read by their ids alone; they are still the search's, in the list's order."""
    monkeypatch.setattr(admin.site._registry[Event], "list_per_page", 2)
    bridges = [make_event(start_date=datetime.date(2021, 1, day), title=f"Bridge {day}") for day in range(1, 6)]
    for day in range(1, 4):
        make_event(start_date=datetime.date(2021, 2, day), title="Depot")
    expected = [event.pk for event in sorted(bridges, key=lambda event: event.start_date, reverse=True)]
    pages = []
    for number in (1, 2, 3):
        response = staff_client.get(admin_url(Event, "changelist"), {"q": "bridge", "p": number})
        assert response.status_code == HTTPStatus.OK
        pages.append([row.pk for row in response.context["cl"].result_list])
        assert all(row.citation_count == 0 for row in response.context["cl"].result_list)
    assert pages == [expected[:2], expected[2:4], expected[4:]]


def probed_choices(response):
    from events.templatetags.events_admin import probed_date_hierarchy

    return probed_date_hierarchy(response.context["cl"])["choices"]


@pytest.mark.django_db
def test_unit_changelist_shows_strength_as_a_range(staff_client):
    make_unit(strength_low=10000, strength_best=11000, strength_high=12000)
    make_unit(strength_low=4000)
    page = staff_client.get(admin_url(Unit, "changelist")).content.decode()
    assert "10,000–12,000 (best 11,000)" in page
    assert "≥ 4,000" in page


@pytest.mark.django_db
def test_unit_search_finds_an_alias(staff_client):
    storm = make_unit(name="11th Army Corps", aliases=["Storm Corps", "Pokpung"])
    make_unit(name="94th Brigade")
    response = staff_client.get(admin_url(Unit, "changelist"), {"q": "pokpung"})
    assert list(response.context["cl"].result_list) == [storm]


@pytest.mark.django_db
def test_event_search_finds_admin1(staff_client):
    kursk = make_event(title="Fighting near Sudzha", admin1="Kursk Oblast")
    make_event(title="Strike on Kharkiv", admin1="Kharkiv Oblast")
    response = staff_client.get(admin_url(Event, "changelist"), {"q": "kursk"})
    assert list(response.context["cl"].result_list) == [kursk]


@pytest.mark.django_db
def test_casualty_report_search_finds_unit_name(staff_client):
    report = make_report(unit=make_unit(name="94th Brigade"))
    make_report(unit=make_unit(name="11th Airborne"))
    response = staff_client.get(admin_url(CasualtyReport, "changelist"), {"q": "94th"})
    assert list(response.context["cl"].result_list) == [report]


@pytest.mark.django_db
def test_citation_search_finds_quote_and_filters_by_reliability(staff_client):
    event = make_event()
    reliable = Citation.objects.create(
        event=event, source=make_source(reliability="B"), role="confirmed_by", quote="about 11,000 troops"
    )
    Citation.objects.create(event=event, source=make_source(reliability="E"), role="claimed_by", quote="11,000 troops")
    response = staff_client.get(admin_url(Citation, "changelist"), {"q": "11,000", "source__reliability": "B"})
    assert list(response.context["cl"].result_list) == [reliable]


# Each (model, field) whose widget asks the autocomplete view, in model admins and their inlines.
AUTOCOMPLETE_FIELDS = sorted(
    {
        (options.model._meta.model_name, field)
        for model_admin in admin.site._registry.values()
        if model_admin.opts.app_label == "events"
        for options in (model_admin, *model_admin.inlines)
        for field in options.autocomplete_fields
    }
)


def test_units_and_sources_have_autocomplete():
    assert {
        ("unit", "parent"),
        ("eventunit", "unit"),
        ("casualtyreport", "unit"),
        ("casualtyreport", "event"),
        ("citation", "source"),
    } <= set(AUTOCOMPLETE_FIELDS)


@pytest.mark.parametrize(("model_name", "field_name"), AUTOCOMPLETE_FIELDS, ids="-".join)
def test_autocomplete_returns_json(staff_client, records, model_name, field_name):
    params = {"app_label": "events", "model_name": model_name, "field_name": field_name}
    target = Event._meta.apps.get_model("events", model_name)._meta.get_field(field_name).related_model
    obj = target.objects.order_by("pk").first()
    response = staff_client.get("/admin/autocomplete/", params)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert {"id": str(obj.pk), "text": str(obj)} in response.json()["results"]


@pytest.mark.django_db
def test_unit_autocomplete_matches_an_alias(staff_client):
    storm = make_unit(name="11th Army Corps", aliases=["Storm Corps"])
    make_unit(name="94th Brigade")
    response = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "events", "model_name": "eventunit", "field_name": "unit", "term": "storm"},
    )
    assert response.json()["results"] == [{"id": str(storm.pk), "text": "11th Army Corps"}]


@pytest.mark.django_db
def test_event_add_page_uses_unit_and_source_autocomplete(staff_client):
    page = staff_client.get(admin_url(Event, "add")).content.decode()
    assert 'data-model-name="eventunit" data-field-name="unit"' in page
    assert 'data-model-name="citation" data-field-name="source"' in page


EVENT_FORM = {
    "title": "North Korean troops arrive in Kursk Oblast",
    "type": "deployment",
    "description": "",
    "start_date": "2025-01-10",
    "end_date": "2025-01-20",
    "date_precision": "approximate",
    "date_text": "mid-January 2025",
    "place_name": "",
    "admin1": "Kursk Oblast",
    "country": "RU",
    "latitude": "",
    "longitude": "",
    "location_precision": "",
    "personnel_low": "10000",
    "personnel_best": "",
    "personnel_high": "12000",
}


@pytest.mark.django_db
def test_event_saved_with_inline_unit_and_citation(staff_client):
    source, unit = make_source(name="New York Times"), make_unit(name="11th Army Corps")
    data = {
        **EVENT_FORM,
        **management_form("event_units", 1),
        "event_units-0-unit": str(unit.pk),
        "event_units-0-role": "participant",
        **management_form("citations", 1),
        "citations-0-source": str(source.pk),
        "citations-0-role": "reported_by",
        "citations-0-url": "www.nytimes.com/2025/01/troops",
        "citations-0-quote": "10,000 to 12,000 troops",
        "_save": "Save",
    }
    response = staff_client.post(admin_url(Event, "add"), data)
    assert response.status_code == HTTPStatus.FOUND, response.context and response.context["errors"]
    event = Event.objects.get()
    assert (event.title, event.personnel_low, event.personnel_high) == (EVENT_FORM["title"], 10000, 12000)
    assert list(event.citations.values_list("source", "role", "url", "quote")) == [
        (source.pk, "reported_by", "https://www.nytimes.com/2025/01/troops", "10,000 to 12,000 troops")
    ]
    assert list(event.event_units.values_list("unit", "role")) == [(unit.pk, "participant")]
    assert LogEntry.objects.filter(object_id=str(event.pk), user__username="admin").exists()


@pytest.mark.django_db
def test_event_ending_before_it_starts_is_refused(staff_client):
    data = {
        **EVENT_FORM,
        "end_date": "2025-01-01",
        **management_form("event_units", 0),
        **management_form("citations", 0),
    }
    response = staff_client.post(admin_url(Event, "add"), data)
    assert response.status_code == HTTPStatus.OK
    assert "end_date" in response.context["adminform"].form.errors
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_casualty_report_with_low_above_high_is_refused(staff_client):
    data = {
        "country": "KP",
        "category": "casualties",
        "kind": "estimate",
        "credibility": "3",
        "low": "4000",
        "best": "",
        "high": "300",
        "date_precision": "day",
        "as_of_date": "2025-01-09",
        **management_form("citations", 1),
        "citations-0-source": str(make_source().pk),
        "citations-0-role": "claimed_by",
        "_save": "Save",
    }
    response = staff_client.post(admin_url(CasualtyReport, "add"), data)
    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["high"] == ["The figure high (300) is less than its low (4000)."]
    assert "is less than its low" in response.content.decode()
    assert not CasualtyReport.objects.exists()
    assert not Citation.objects.exists()


@pytest.mark.django_db
def test_citation_needs_exactly_one_subject(staff_client):
    data = {"source": str(make_source().pk), "role": "claimed_by", "event": "", "casualty_report": ""}
    response = staff_client.post(admin_url(Citation, "add"), data)
    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.non_field_errors() == [
        "A citation belongs to exactly one event or casualty report."
    ]
    assert not Citation.objects.exists()


@pytest.mark.django_db
def test_within_unit_filter_covers_the_whole_subtree(staff_client):
    army = make_unit(name="Korean People's Army", echelon=choices.Echelon.ARMY, parent=None)
    corps = make_unit(name="11th Army Corps", echelon=choices.Echelon.CORPS, parent=army)
    brigade = make_unit(name="94th Brigade", parent=corps)
    other = make_unit(name="Russian Ground Forces", country="RU", echelon=choices.Echelon.ARMY)
    inside_event, outside_event = make_event(units=[brigade]), make_event(units=[other])
    inside_report, outside_report = make_report(unit=brigade), make_report(unit=other)
    within = {"within": str(army.pk)}

    units = staff_client.get(admin_url(Unit, "changelist"), within).context["cl"]
    assert set(units.result_list) == {army, corps, brigade}
    assert (army.pk, army.name) in units.filter_specs[-1].lookup_choices
    events = staff_client.get(admin_url(Event, "changelist"), within).context["cl"].result_list
    assert list(events) == [inside_event]
    reports = staff_client.get(admin_url(CasualtyReport, "changelist"), within).context["cl"].result_list
    assert list(reports) == [inside_report]
    assert outside_event.pk and outside_report.pk


@pytest.mark.django_db
def test_within_unit_filter_rejects_a_non_id(staff_client):
    make_unit()
    response = staff_client.get(admin_url(Unit, "changelist"), {"within": "army"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("?e=1")


@pytest.mark.django_db
def test_changelist_orders_by_citation_count(staff_client):
    source = make_source()
    quiet = make_event(title="Quiet")
    busy = make_event(title="Busy", citations=[(source, "claimed_by"), (source, "confirmed_by")])
    response = staff_client.get(admin_url(Event, "changelist"), {"o": "-8"})
    assert list(response.context["cl"].result_list) == [busy, quiet]
    assert [row.citation_count for row in response.context["cl"].result_list] == [2, 0]


@pytest.mark.parametrize("staff", [False, None], ids=["non-staff user", "anonymous"])
def test_admin_needs_a_staff_login(client, db, staff):
    if staff is not None:
        client.force_login(User.objects.create_user("reader", password="reader-password-1", is_staff=staff))
    for url in ("/admin/", admin_url(Event, "changelist"), admin_url(Unit, "add")):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith("/admin/login/")


def test_index_is_titled_for_the_project(staff_client):
    response = staff_client.get("/admin/")
    assert "<title>Curation | OSINT conflict events</title>" in response.content.decode()
