"""Nothing a curator does in the admin is lost: every change is in the record's history, links
between claims are edited inline, a deleted record can be restored, and a change form opened
before someone else's save refuses to overwrite it."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events import choices
from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, Source

from .factories import make_event, make_report, make_source, make_unit


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def submitted(response, **changes):
    """The POST data a browser sends for a rendered admin form, with ``changes`` made to it."""
    forms = [response.context["adminform"].form]
    for inline in response.context.get("inline_admin_formsets", []):
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue  # an unticked box or an empty value is not sent
            if value is True:
                value = "on"
            data[field.html_name] = value if isinstance(value, list) else str(value)
    return {**data, **changes, "_save": "Save"}


def errors_of(response):
    return response.context["adminform"].form.non_field_errors()


def add_link_form(prefix, to_claim, source, relation=choices.LinkRelation.SUPERSEDES):
    return {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-relation": relation,
        f"{prefix}-0-to_claim": str(to_claim.pk),
        f"{prefix}-0-source": str(source.pk),
        f"{prefix}-0-quote": "The earlier figure is withdrawn.",
    }


def supersede(old, new, source=None):
    return CasualtyReportLink.objects.create(
        from_claim=new, to_claim=old, relation=choices.LinkRelation.SUPERSEDES, source=source or make_source()
    )


@pytest.fixture
def editor(db):
    return User.objects.create_user("editor", password="editor-password-1", is_staff=True)


# --- edit history


@pytest.mark.django_db
def test_history_page_shows_old_and_new_values_and_who_changed_them(staff_client):
    source = make_source(name="Old ministry name", slug="ministry")
    form = staff_client.get(admin_url(Source, "change", source.pk))
    response = staff_client.post(admin_url(Source, "change", source.pk), submitted(form, name="New ministry name"))
    assert response.status_code == HTTPStatus.FOUND

    page = staff_client.get(admin_url(Source, "history", source.pk))
    assert page.status_code == HTTPStatus.OK
    [changed, _created] = page.context["page_obj"].object_list
    assert changed.history_user.username == "admin"
    assert [(c["field"], c["old"], c["new"]) for c in changed.history_delta_changes] == [
        ("Name", "Old ministry name", "New ministry name")
    ]
    html = page.content.decode()
    assert "Old ministry name" in html and "New ministry name" in html and "admin" in html


@pytest.mark.django_db
def test_event_history_lists_changes_to_its_citations(staff_client, editor):
    event = make_event(citations=[(make_source(), choices.CitationRole.CLAIMED_BY)])
    citation = event.citations.get()
    citation.quote, citation._history_user = "About 11,000 troops", editor
    citation.save()

    page = staff_client.get(admin_url(Event, "history", event.pk))
    [edit, _created] = page.context["part_history"]
    assert (edit["user"], edit["url"]) == ("editor", admin_url(Citation, "history", citation.pk))
    assert {"field": "quote", "old": "", "new": "About 11,000 troops"} in edit["changes"]
    assert "About 11,000 troops" in page.content.decode()
    assert staff_client.get(edit["url"]).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_revert_from_the_history_page_restores_an_earlier_version(staff_client):
    event = make_event(title="Strike on Kharkiv")
    event.title = "Strike on Kharkiv airfield"
    event.save()
    first_version = event.history.earliest()

    url = reverse("admin:events_event_simple_history", args=[event.pk, first_version.history_id])
    response = staff_client.post(url, submitted(staff_client.get(url)))
    assert response.status_code == HTTPStatus.FOUND, errors_of(response)
    event.refresh_from_db()
    assert event.title == "Strike on Kharkiv"


# --- claim links


@pytest.mark.django_db
def test_claim_link_inline_saves_a_link_on_a_casualty_report(staff_client):
    old, new, source = make_report(best=4000), make_report(best=3000), make_source()
    form = staff_client.get(admin_url(CasualtyReport, "change", new.pk))
    data = {**submitted(form), **add_link_form("outgoing_links", old, source)}
    response = staff_client.post(admin_url(CasualtyReport, "change", new.pk), data)
    assert response.status_code == HTTPStatus.FOUND, response.context and response.context["errors"]
    assert list(CasualtyReportLink.objects.values_list("from_claim", "relation", "to_claim", "source")) == [
        (new.pk, "supersedes", old.pk, source.pk)
    ]

    incoming = staff_client.get(admin_url(CasualtyReport, "change", old.pk)).context["inline_admin_formsets"]
    [shown] = [form.original for inline in incoming if inline.opts.fk_name == "to_claim" for form in inline]
    assert shown.from_claim == new


@pytest.mark.django_db
def test_claim_link_inline_is_offered_on_an_event_with_autocomplete(staff_client):
    event = make_event()
    page = staff_client.get(admin_url(Event, "change", event.pk)).content.decode()
    assert 'data-model-name="eventlink" data-field-name="to_claim"' in page
    assert 'data-model-name="eventlink" data-field-name="source"' in page


# --- derived status


@pytest.mark.django_db
def test_casualty_report_status_column_and_filter(staff_client):
    old = make_report(best=4000)
    supersede(old, make_report(best=3000))
    confirmed = make_report(citations=[(make_source(), choices.CitationRole.CONFIRMED_BY)])
    url = admin_url(CasualtyReport, "changelist")

    superseded_page = staff_client.get(url, {"status": "superseded"})
    assert list(superseded_page.context["cl"].result_list) == [old]
    assert '<td class="field-status">Superseded</td>' in superseded_page.content.decode()
    confirmed_page = staff_client.get(url, {"status": "confirmed"})
    assert list(confirmed_page.context["cl"].result_list) == [confirmed]
    assert '<td class="field-status">Confirmed</td>' in confirmed_page.content.decode()


@pytest.mark.django_db
def test_event_status_filter(staff_client):
    old, new = make_event(), make_event()
    EventLink.objects.create(from_claim=new, to_claim=old, relation="retracts", source=make_source())
    response = staff_client.get(admin_url(Event, "changelist"), {"status": "retracted"})
    assert list(response.context["cl"].result_list) == [old]


@pytest.mark.django_db
def test_status_filter_rejects_an_unknown_status(staff_client):
    make_report()
    response = staff_client.get(admin_url(CasualtyReport, "changelist"), {"status": "rumoured"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("model", [CasualtyReport, Event], ids=lambda model: model._meta.model_name)
@pytest.mark.django_db
def test_status_column_costs_no_query_per_row(staff_client, model):
    make_claim = make_report if model is CasualtyReport else make_event
    url = admin_url(model, "changelist")

    def add_claims(count):
        for _ in range(count):
            old, new = make_claim(), make_claim()
            model.citations.field.model.objects.create(
                **{model.citations.field.name: new}, source=make_source(), role="confirmed_by"
            )
            link_model = CasualtyReportLink if model is CasualtyReport else EventLink
            link_model.objects.create(from_claim=new, to_claim=old, relation="supersedes", source=make_source())

    add_claims(1)
    staff_client.get(url)  # warm per-process caches, such as content types
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url, {"o": "-1"})
    add_claims(10)
    with CaptureQueriesContext(connection) as many:
        response = staff_client.get(url, {"o": "-1"})
    assert response.context["cl"].result_count == 22
    assert len(many) == len(few), "\n".join(query["sql"] for query in many.captured_queries)


# --- deleted records


def delete_through_admin(client, obj):
    response = client.post(admin_url(type(obj), "delete", obj.pk), {"post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    assert not type(obj).objects.filter(pk=obj.pk).exists()


def restore(client, model, *ids):
    deleted = model.history.filter(id__in=ids, history_type="-").values_list("history_id", flat=True)
    data = {"action": "restore_selected", "_selected_action": [str(pk) for pk in deleted]}
    return client.post(admin_url(model, "deleted"), data, follow=True)


@pytest.mark.django_db
def test_deleted_event_is_restored_with_its_id_and_citations(staff_client):
    source = make_source()
    event = make_event(
        title="Strike on Kharkiv",
        units=[make_unit()],
        citations=[(source, choices.CitationRole.CLAIMED_BY), (source, choices.CitationRole.CONFIRMED_BY)],
    )
    citations = set(event.citations.values_list("pk", "role"))
    delete_through_admin(staff_client, event)
    assert not Citation.objects.exists()

    listing = staff_client.get(admin_url(Event, "deleted"))
    assert listing.status_code == HTTPStatus.OK
    [row] = listing.context["cl"].result_list
    assert (row.id, row.title, row.history_user.username) == (event.pk, "Strike on Kharkiv", "admin")
    assert "Deleted events" in listing.content.decode()

    response = restore(staff_client, Event, event.pk)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Restored 1 event: “Strike on Kharkiv” (id {event.pk})."
    ]
    restored = Event.objects.get(pk=event.pk)
    assert set(restored.citations.values_list("pk", "role")) == citations
    assert restored.event_units.count() == 1
    assert list(response.context["cl"].result_list) == []


@pytest.mark.django_db
def test_changelist_links_to_its_deleted_records(staff_client):
    page = staff_client.get(admin_url(Source, "changelist")).content.decode()
    assert f'href="{admin_url(Source, "deleted")}"' in page


@pytest.mark.django_db
def test_deleted_links_are_listed_when_their_claims_are_gone_too(staff_client):
    """A link deleted with its claim names claims that no longer exist; the list must not look them up."""
    old = make_report()
    link = supersede(old, make_report())
    delete_through_admin(staff_client, old)
    url = admin_url(CasualtyReportLink, "deleted")
    staff_client.get(url)
    with CaptureQueriesContext(connection) as one_row:
        listing = staff_client.get(url)
    assert [row.id for row in listing.context["cl"].result_list] == [link.pk]
    for _ in range(5):
        delete_through_admin(staff_client, supersede(make_report(), make_report()))
    with CaptureQueriesContext(connection) as many_rows:
        assert staff_client.get(url).context["cl"].result_count == 6
    assert len(many_rows) == len(one_row)


@pytest.mark.django_db
def test_restore_that_would_clash_is_refused_with_a_message(staff_client):
    source = make_source(slug="ministry")
    delete_through_admin(staff_client, source)
    make_source(slug="ministry")

    response = restore(staff_client, Source, source.pk)
    [error] = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert error.startswith(f"Could not restore source {source.pk}: ")
    assert [row.id for row in response.context["cl"].result_list] == [source.pk]


@pytest.mark.django_db
def test_user_without_add_permission_cannot_restore(client, editor):
    editor.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="events", codename__in=["view_event", "change_event", "delete_event"]
        )
    )
    client.force_login(editor)
    event = make_event(citations=[(make_source(), choices.CitationRole.CLAIMED_BY)])
    Event.objects.get(pk=event.pk).delete()

    listing = client.get(admin_url(Event, "deleted"))
    assert listing.status_code == HTTPStatus.OK
    assert [row.id for row in listing.context["cl"].result_list] == [event.pk]
    assert "restore_selected" not in listing.content.decode()
    restore(client, Event, event.pk)
    assert not Event.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_deleted_records_need_the_models_view_permission(client, editor):
    client.force_login(editor)
    assert client.get(admin_url(Event, "deleted")).status_code == HTTPStatus.FORBIDDEN


# --- stale forms


@pytest.mark.django_db
def test_stale_form_is_refused_and_overwrites_nothing(staff_client, editor):
    event = make_event(title="Strike on Kharkiv")
    form = staff_client.get(admin_url(Event, "change", event.pk))

    event.title, event._history_user = "Strike on Kharkiv airfield", editor
    event.save()
    data = {
        **submitted(form, title="Strike near Kharkiv"),
        **{"citations-TOTAL_FORMS": "1", "citations-0-source": str(make_source().pk), "citations-0-role": "claimed_by"},
    }
    response = staff_client.post(admin_url(Event, "change", event.pk), data)

    assert response.status_code == HTTPStatus.OK
    [error] = errors_of(response)
    assert "was changed by editor at" in error and "Reload the page" in error
    assert "was changed by editor at" in response.content.decode()
    event.refresh_from_db()
    assert event.title == "Strike on Kharkiv airfield"
    assert not event.citations.exists()


@pytest.mark.django_db
def test_citation_added_by_someone_else_makes_the_event_form_stale(staff_client, editor):
    event = make_event(title="Strike on Kharkiv")
    form = staff_client.get(admin_url(Event, "change", event.pk))

    citation = Citation(event=event, source=make_source(), role=choices.CitationRole.CONFIRMED_BY)
    citation._history_user = editor
    citation.save()
    response = staff_client.post(admin_url(Event, "change", event.pk), submitted(form, title="Strike near Kharkiv"))

    assert response.status_code == HTTPStatus.OK
    assert "was changed by editor at" in errors_of(response)[0]
    assert Event.objects.get().title == "Strike on Kharkiv"


@pytest.mark.django_db
def test_form_for_a_record_deleted_meanwhile_is_refused(staff_client):
    source = make_source()
    url = reverse("admin:events_source_simple_history", args=[source.pk, source.history.get().history_id])
    form = staff_client.get(url)
    source.delete()
    response = staff_client.post(url, submitted(form))
    assert response.status_code == HTTPStatus.OK
    assert "no longer exists" in errors_of(response)[0]
    assert not Source.objects.exists()


@pytest.mark.django_db
def test_fresh_form_saves_and_the_next_form_saves_too(staff_client):
    report = make_report(best=100, citations=[(make_source(), choices.CitationRole.CLAIMED_BY)])
    url = admin_url(CasualtyReport, "change", report.pk)

    for best in (120, 150):
        form = staff_client.get(url)
        response = staff_client.post(url, submitted(form, best=str(best), **{"citations-0-quote": f"{best} killed"}))
        assert response.status_code == HTTPStatus.FOUND, errors_of(response)
        report.refresh_from_db()
        assert (report.best, report.citations.get().quote) == (best, f"{best} killed")


@pytest.mark.django_db
def test_add_form_still_saves(staff_client):
    data = {"name": "Ministry of Defence", "slug": "mod", "kind": "government", "reliability": "F", "_save": "Save"}
    response = staff_client.post(admin_url(Source, "add"), data)
    assert response.status_code == HTTPStatus.FOUND, errors_of(response)
    assert Source.objects.get().slug == "mod"


@pytest.mark.django_db
def test_link_and_citation_forms_are_guarded_too(staff_client):
    link = supersede(make_report(), make_report())
    citation = make_event(citations=[(make_source(), "claimed_by")]).citations.get()
    for obj in (link, citation):
        url = admin_url(type(obj), "change", obj.pk)
        form = staff_client.get(url)
        type(obj).objects.get(pk=obj.pk).save()
        response = staff_client.post(url, submitted(form, quote="Overwritten"))
        assert response.status_code == HTTPStatus.OK
        assert "after you opened this form" in errors_of(response)[0]
        assert type(obj).objects.get(pk=obj.pk).quote == ""
