"""A curator enters a story through the admin in a real browser; the API then serves it."""

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import urlopen

from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

PASSWORD = "curator-browser-password-1"
SOURCE_NAME = "Browser Test Gazette"
SOURCE_SLUG = "browser-test-gazette"
UNIT_NAME = "Browser Test 94th Assault Brigade"
EVENT_TITLE = "Browser test: strike on the Sudzha bridge"


def log_in(page, username):
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("#site-name")).to_have_text("OSINT conflict events")
    expect(page.locator("#user-tools")).to_contain_text(username)


def save(page, verbose_name):
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_contain_text(re.compile(f"The {verbose_name} .* was added"))


def add_inline(page, prefix):
    """Clicks the inline group's "Add another ..." link; the new row is ``<prefix>-<n>``."""
    forms = page.locator(f"#{prefix}-group .dynamic-{prefix}")
    before = forms.count()
    page.locator(f"#{prefix}-group .add-row a").click()
    expect(forms).to_have_count(before + 1)
    return f"{prefix}-{before}"


def autocomplete_term(url):
    """The search term of a request to the admin's autocomplete view, or None for any other request."""
    parts = urlsplit(url)
    return parse_qs(parts.query).get("term", [None])[0] if parts.path == "/admin/autocomplete/" else None


def pick(page, field_id, search, label):
    """Chooses ``label`` in an autocomplete (select2) field by typing ``search`` into its search box."""
    selection = page.locator(f"#{field_id} + .select2 .select2-selection")
    selection.click()
    search_box = page.locator(".select2-container--open .select2-search__field")
    with page.expect_response(lambda r: autocomplete_term(r.url) == search):
        search_box.press_sequentially(search, delay=20)
    page.locator(".select2-container--open .select2-results__option", has_text=label).click()
    expect(selection.locator(".select2-selection__rendered")).to_contain_text(label)
    # The choice reached the form's real <select>, which is what the browser submits.
    assert page.locator(f"#{field_id} option:checked").inner_text().strip() == label


def api_get(live_server, path, **params):
    """An anonymous GET, as a client application reads the API."""
    with urlopen(f"{live_server.url}{path}?{urlencode(params)}", timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_curator_enters_a_story_that_the_api_serves(page, live_server, offline, screenshot):
    curator = User.objects.create_user("browser-curator", password=PASSWORD, is_staff=True)
    curator.user_permissions.set(Permission.objects.filter(content_type__app_label="events"))
    log_in(page, "browser-curator")

    # A source; the slug is filled in from the name as the curator types it.
    page.goto("/admin/events/source/add/")
    page.locator("#id_name").press_sequentially(SOURCE_NAME)
    expect(page.locator("#id_slug")).to_have_value(SOURCE_SLUG)
    page.locator("#id_kind").select_option("media")
    page.locator("#id_country").select_option("GB")
    page.locator("#id_reliability").select_option("B")
    save(page, "source")

    # A unit.
    page.goto("/admin/events/unit/add/")
    page.locator("#id_name").fill(UNIT_NAME)
    page.locator("#id_country").select_option("KP")
    page.locator("#id_echelon").select_option("brigade")
    page.locator("#id_status").select_option("deployed")
    save(page, "unit")

    # An event, with the unit and a citation entered inline.
    page.goto("/admin/events/event/add/")
    page.locator("#id_title").fill(EVENT_TITLE)
    page.locator("#id_type").select_option("strike")
    page.locator("#id_start_date").fill("2025-01-14")
    page.locator("#id_end_date").fill("2025-01-15")
    page.locator("#id_date_precision").select_option("day")
    page.locator("#id_date_text").fill("14–15 January 2025")
    page.locator("#id_place_name").fill("Sudzha")
    page.locator("#id_admin1").fill("Kursk Oblast")
    page.locator("#id_country").select_option("RU")
    page.locator("#id_latitude").fill("51.19")
    page.locator("#id_longitude").fill("35.27")
    page.locator("#id_location_precision").select_option("near")

    unit_row = add_inline(page, "event_units")
    pick(page, f"id_{unit_row}-unit", "94th", UNIT_NAME)
    page.locator(f"#id_{unit_row}-role").select_option("attacker")

    citation = add_inline(page, "citations")
    pick(page, f"id_{citation}-source", "gazette", SOURCE_NAME)
    page.locator(f"#id_{citation}-role").select_option("reported_by")
    page.locator(f"#id_{citation}-url").fill("www.example.org/2025/01/sudzha-bridge")
    page.locator(f"#id_{citation}-published_date").fill("2025-01-16")
    page.locator(f"#id_{citation}-quote").fill("the bridge at Sudzha was struck twice")
    screenshot(page, "admin-event-form")
    save(page, "event")

    # A casualty report on that event, with its citation entered inline.
    page.goto("/admin/events/casualtyreport/add/")
    page.locator("#id_category").select_option("killed")
    page.locator("#id_kind").select_option("estimate")
    page.locator("#id_credibility").select_option("3")
    page.locator("#id_country").select_option("KP")
    pick(page, "id_unit", "assault", UNIT_NAME)
    pick(page, "id_event", "Sudzha", EVENT_TITLE)
    page.locator("#id_low").fill("40")
    page.locator("#id_best").fill("50")
    page.locator("#id_high").fill("65")
    page.locator("#id_as_of_date").fill("2025-01-20")
    page.locator("#id_description").fill("Losses of the brigade in the Sudzha strike.")
    citation = add_inline(page, "citations")
    pick(page, f"id_{citation}-source", "Browser Test", SOURCE_NAME)
    page.locator(f"#id_{citation}-role").select_option("claimed_by")
    page.locator(f"#id_{citation}-quote").fill("some fifty soldiers killed")
    save(page, "casualty report")

    # A client application finds it all through the API, without logging in.
    events = api_get(live_server, "/api/events/", q="sudzha bridge")
    assert events["count"] == 1
    event = events["results"][0]
    assert event["title"] == EVENT_TITLE
    assert (event["type"], event["start_date"], event["end_date"]) == ("strike", "2025-01-14", "2025-01-15")
    assert (event["country"], event["admin1"], event["latitude"], event["longitude"]) == (
        "RU",
        "Kursk Oblast",
        51.19,
        35.27,
    )
    assert [(u["unit"]["name"], u["unit"]["echelon"], u["role"]) for u in event["units"]] == [
        (UNIT_NAME, "brigade", "attacker")
    ]
    [event_citation] = event["citations"]
    assert event_citation["source"]["slug"] == SOURCE_SLUG
    assert event_citation["source"]["reliability"] == "B"
    assert event_citation["role"] == "reported_by"
    assert event_citation["url"] == "https://www.example.org/2025/01/sudzha-bridge"  # the admin assumes https
    assert event_citation["published_date"] == "2025-01-16"
    assert event_citation["quote"] == "the bridge at Sudzha was struck twice"
    assert event["status"] == "claimed"

    # The same event through the filters a client would use.
    source_id = event_citation["source"]["id"]
    by_source = api_get(live_server, "/api/events/", source=source_id, citation_role="reported_by")
    assert [e["id"] for e in by_source["results"]] == [event["id"]]

    reports = api_get(live_server, "/api/casualty-reports/", event=event["id"])
    assert reports["count"] == 1
    report = reports["results"][0]
    assert (report["category"], report["kind"], report["credibility"]) == ("killed", "estimate", 3)
    assert (report["low"], report["best"], report["high"]) == (40, 50, 65)
    assert report["as_of_date"] == "2025-01-20"
    assert report["unit"]["name"] == UNIT_NAME
    assert report["event"]["title"] == EVENT_TITLE
    [report_citation] = report["citations"]
    assert (report_citation["source"]["name"], report_citation["role"]) == (SOURCE_NAME, "claimed_by")
    assert report_citation["quote"] == "some fifty soldiers killed"
    claimed = api_get(live_server, "/api/casualty-reports/", claimed_by=source_id, best__gte=50)
    assert [r["id"] for r in claimed["results"]] == [report["id"]]

    # The admin's pages (select2, calendars, inlines) needed nothing from outside.
    assert offline.external_requests == []
    assert offline.page_errors == []
