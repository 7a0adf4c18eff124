"""Create, read, update and delete for each resource, and who may do which."""

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User

from events.models import CasualtyReport, Citation, Event, EventUnit, Source, Unit

from .conftest import client_for
from .factories import make_event, make_report, make_source, make_unit


@dataclass
class Resource:
    endpoint: str
    model: type
    make: Callable
    create_data: Callable  # () -> request body, may create the rows it refers to
    update_data: dict

    def __str__(self):
        return self.endpoint


RESOURCES = [
    Resource(
        "/api/sources/",
        Source,
        make_source,
        lambda: {
            "name": "Institute for the Study of War",
            "slug": "isw",
            "kind": "think_tank",
            "country": "US",
            "reliability": "B",
            "homepage": "https://www.understandingwar.org/",
        },
        {"reliability": "C"},
    ),
    Resource(
        "/api/units/",
        Unit,
        make_unit,
        lambda: {
            "name": "11th Corps",
            "country": "KP",
            "echelon": "corps",
            "aliases": ["Storm Corps"],
            "parent": make_unit(echelon="army").pk,
            "strength_low": 10000,
            "strength_high": 12000,
        },
        {"status": "withdrawn"},
    ),
    Resource(
        "/api/events/",
        Event,
        make_event,
        lambda: {
            "title": "Strike on a command post",
            "type": "strike",
            "start_date": "2025-01-31",
            "country": "RU",
            "admin1": "Kursk Oblast",
            "latitude": 51.7,
            "longitude": 36.2,
            "units": [{"unit": make_unit().pk, "role": "target"}],
            "citations": [
                {
                    "source": make_source().pk,
                    "role": "claimed_by",
                    "quote": "dozens of casualties",
                    "published_date": "2025-02-02",
                }
            ],
        },
        {"date_text": "31 January"},
    ),
    Resource(
        "/api/casualty-reports/",
        CasualtyReport,
        make_report,
        lambda: {
            "country": "KP",
            "category": "casualties",
            "best": 4000,
            "kind": "count",
            "as_of_date": "2025-01-09",
            "credibility": 3,
            "citations": [{"source": make_source().pk, "role": "claimed_by", "quote": "4,000 troops"}],
        },
        {"credibility": 2},
    ),
]


@pytest.fixture(params=RESOURCES, ids=str)
def resource(request):
    return request.param


def detail(resource, obj):
    return f"{resource.endpoint}{obj.pk}/"


@pytest.mark.django_db
def test_anyone_can_list_and_read(api, resource):
    obj = resource.make()
    listing = api.get(resource.endpoint)
    assert listing.status_code == HTTPStatus.OK
    body = listing.json()
    assert set(body) == {"count", "count_exact", "next", "previous", "results"}
    assert body["count"] == 1
    assert body["results"][0]["id"] == obj.pk
    one = api.get(detail(resource, obj))
    assert one.status_code == HTTPStatus.OK
    assert one.json() == body["results"][0]


@pytest.mark.django_db
def test_missing_record_is_404(api, resource):
    assert api.get(f"{resource.endpoint}999999/").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"{resource.endpoint}not-a-number/").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_curator_creates(curator_api, resource):
    data = resource.create_data()
    response = curator_api.post(resource.endpoint, data, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    created = response.json()
    stored = resource.model.objects.get(pk=created["id"])
    for name, value in data.items():
        if name in {"units", "citations", "parent"}:
            continue
        assert created[name] == value, name
    assert stored.created_at is not None
    assert curator_api.get(detail(resource, stored)).json() == created


@pytest.mark.django_db
def test_curator_updates(curator_api, resource):
    obj = resource.make()
    response = curator_api.patch(detail(resource, obj), resource.update_data, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    obj.refresh_from_db()
    for name, value in resource.update_data.items():
        assert response.json()[name] == value
        assert getattr(obj, name) == value


@pytest.mark.django_db
def test_curator_replaces_with_put(curator_api, resource):
    obj = resource.make()
    data = {**resource.create_data(), **resource.update_data}
    response = curator_api.put(detail(resource, obj), data, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["id"] == obj.pk


@pytest.mark.django_db
def test_curator_deletes(curator_api, resource):
    obj = resource.make()
    assert curator_api.delete(detail(resource, obj)).status_code == HTTPStatus.NO_CONTENT
    assert not resource.model.objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_anonymous_cannot_write(api, resource):
    obj = resource.make()
    assert api.post(resource.endpoint, resource.create_data(), format="json").status_code == HTTPStatus.UNAUTHORIZED
    assert api.patch(detail(resource, obj), resource.update_data, format="json").status_code == HTTPStatus.UNAUTHORIZED
    assert api.delete(detail(resource, obj)).status_code == HTTPStatus.UNAUTHORIZED
    assert resource.model.objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_user_without_permission_cannot_write(reader_api, resource):
    obj = resource.make()
    assert reader_api.get(resource.endpoint).status_code == HTTPStatus.OK
    assert reader_api.post(resource.endpoint, resource.create_data(), format="json").status_code == HTTPStatus.FORBIDDEN
    assert (
        reader_api.patch(detail(resource, obj), resource.update_data, format="json").status_code == HTTPStatus.FORBIDDEN
    )
    assert reader_api.delete(detail(resource, obj)).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
def test_each_permission_grants_only_its_action(resource):
    """Holding ``change`` lets a user edit but neither add nor delete."""
    obj = resource.make()
    user = User.objects.create_user("editor")
    model_name = resource.model._meta.model_name
    user.user_permissions.add(Permission.objects.get(codename=f"change_{model_name}"))
    client = client_for(user)
    assert client.patch(detail(resource, obj), resource.update_data, format="json").status_code == HTTPStatus.OK
    assert client.post(resource.endpoint, resource.create_data(), format="json").status_code == HTTPStatus.FORBIDDEN
    assert client.delete(detail(resource, obj)).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
def test_invalid_token_is_rejected(api, resource):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(resource.endpoint).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_session_login_can_write(client, curator):
    client.force_login(curator)
    response = client.post(
        "/api/sources/", {"name": "AP", "slug": "ap", "kind": "media"}, content_type="application/json"
    )
    assert response.status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_token_is_issued_for_username_and_password(api, curator):
    response = api.post("/api/auth/token/", {"username": "curator", "password": "curator-password-1"}, format="json")
    assert response.status_code == HTTPStatus.OK
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.post("/api/sources/", {"name": "AP", "slug": "ap", "kind": "media"}, format="json").status_code == 201


# Inline citations and units.


@pytest.mark.django_db
def test_event_citations_read_with_their_source(api):
    source = make_source(name="National Intelligence Service", reliability="B")
    event = make_event(citations=[(source, "confirmed_by")])
    citation = api.get(f"/api/events/{event.pk}/").json()["citations"][0]
    assert citation["role"] == "confirmed_by"
    assert citation["source"]["name"] == "National Intelligence Service"
    assert citation["source"]["reliability"] == "B"


@pytest.mark.django_db
def test_inline_lists_replace_stored_children(curator_api):
    nyt, nis, isw = make_source(), make_source(), make_source()
    unit = make_unit()
    event = make_event(citations=[(nyt, "reported_by"), (nis, "confirmed_by")], units=[unit])
    kept = event.citations.get(source=nyt)
    response = curator_api.patch(
        f"/api/events/{event.pk}/",
        {
            "citations": [
                {"id": kept.pk, "source": nyt.pk, "role": "reported_by", "quote": "withdrawn"},
                {"source": isw.pk, "role": "claimed_by"},
            ]
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    citations = {(c.source_id, c.role): c for c in event.citations.all()}
    assert set(citations) == {(nyt.pk, "reported_by"), (isw.pk, "claimed_by")}
    assert citations[(nyt.pk, "reported_by")].pk == kept.pk, "an item with its id is updated in place"
    assert citations[(nyt.pk, "reported_by")].quote == "withdrawn"
    assert event.event_units.count() == 1, "a list left out of the request is kept"


@pytest.mark.django_db
def test_inline_id_of_another_record_is_rejected(curator_api):
    source = make_source()
    other = make_event(citations=[(source, "claimed_by")])
    event = make_event()
    response = curator_api.patch(
        f"/api/events/{event.pk}/",
        {"citations": [{"id": other.citations.get().pk, "source": source.pk, "role": "claimed_by"}]},
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "citations" in response.json()
    assert other.citations.count() == 1


@pytest.mark.django_db
def test_bad_inline_citation_saves_nothing(curator_api):
    response = curator_api.post(
        "/api/casualty-reports/",
        {
            "country": "KP",
            "category": "killed",
            "best": 10,
            "kind": "count",
            "citations": [{"source": 999999, "role": "claimed_by"}],
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "source" in response.json()["citations"]["0"], "the error names the item and its field"
    assert not CasualtyReport.objects.exists()
    assert not Citation.objects.exists()


@pytest.mark.django_db
def test_same_unit_twice_in_one_role_is_rejected(curator_api):
    unit = make_unit()
    response = curator_api.post(
        "/api/events/",
        {
            "title": "x",
            "type": "combat",
            "start_date": "2025-01-01",
            "units": [{"unit": unit.pk, "role": "attacker"}, {"unit": unit.pk, "role": "attacker"}],
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "units" in response.json()
    assert not EventUnit.objects.exists()


@pytest.mark.django_db
def test_single_day_event_needs_no_end_date(curator_api):
    response = curator_api.post(
        "/api/events/", {"title": "Capture", "type": "capture", "start_date": "2025-01-11"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["end_date"] == "2025-01-11"


@pytest.mark.django_db
def test_deleting_a_cited_source_is_refused(curator_api):
    source = make_source()
    make_report(citations=[(source, "claimed_by")])
    response = curator_api.delete(f"/api/sources/{source.pk}/")
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["referenced_by"]
    assert Source.objects.filter(pk=source.pk).exists()


@pytest.mark.django_db
def test_deleting_an_event_removes_its_citations(curator_api):
    event = make_event(citations=[(make_source(), "claimed_by")])
    assert curator_api.delete(f"/api/events/{event.pk}/").status_code == HTTPStatus.NO_CONTENT
    assert not Citation.objects.exists()


@pytest.mark.django_db
def test_write_failing_half_way_stores_nothing(curator_api, monkeypatch):
    """If the database fails while the inline citations are written, the event is not kept either."""
    sources = [make_source(), make_source()]
    original_save = Citation.save
    saved = []

    def failing_save(self, *args, **kwargs):
        if saved:
            raise RuntimeError("connection lost")
        saved.append(self)
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Citation, "save", failing_save)
    with pytest.raises(RuntimeError):
        curator_api.post(
            "/api/events/",
            {
                "title": "Strike",
                "type": "strike",
                "start_date": "2025-01-31",
                "citations": [{"source": s.pk, "role": "claimed_by"} for s in sources],
            },
            format="json",
        )
    assert saved, "the first citation was written before the failure"
    assert not Event.objects.exists()
    assert not Citation.objects.exists()
