"""The API documentation works in a browser with no network beyond this service."""

import datetime
import re

from playwright.sync_api import expect

from events.models import Event

DOCS_EVENT_TITLE = "Docs check: convoy sighted near Sudzha"
# Redoc lays out the whole 450 kB schema before it shows anything: about 3 s on an idle
# machine, several times that on a loaded one.
REDOC_RENDER_TIMEOUT_MS = 60_000


def test_swagger_ui_lists_operations_and_executes_a_request_offline(page, offline, screenshot):
    Event.objects.create(
        title=DOCS_EVENT_TITLE,
        type="deployment",
        start_date=datetime.date(2025, 1, 10),
        end_date=datetime.date(2025, 1, 10),
    )

    page.goto("/api/docs/")

    # The schema was fetched and rendered: the title, the tags and the operations.
    expect(page.locator(".information-container .title")).to_contain_text("OSINT conflict-event API")
    events_tag = page.locator('.opblock-tag[data-tag="events"]')
    expect(events_tag).to_be_visible()
    operation = page.locator("#operations-events-events_list")
    expect(operation.locator(".opblock-summary-method")).to_have_text("GET")
    expect(operation.locator(".opblock-summary-path")).to_have_attribute("data-path", "/api/events/")
    expect(page.locator(".opblock-tag").filter(has_text=re.compile(r"^casualty-reports"))).to_be_visible()

    # Expand GET /api/events/, try it out and execute it.
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda response: "/api/events/" in response.url) as api_response:
        operation.get_by_role("button", name="Execute").click()
    assert api_response.value.status == 200

    live = operation.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    expect(live.locator(".response-col_description")).to_contain_text(DOCS_EVENT_TITLE)
    expect(operation.locator(".request-url")).to_contain_text("/api/events/")
    operation.locator(".live-responses-table").scroll_into_view_if_needed()
    screenshot(page, "swagger-try-it-out", full_page=False)

    assert offline.external_requests == []
    assert offline.page_errors == []


def test_redoc_renders_offline(page, offline, screenshot):
    page.goto("/api/redoc/")

    expect(page.locator(".api-info h1")).to_contain_text("OSINT conflict-event API", timeout=REDOC_RENDER_TIMEOUT_MS)
    menu = page.locator(".menu-content")
    expect(menu.get_by_text("events", exact=True)).to_be_visible()
    expect(menu.get_by_text("casualty-reports", exact=True)).to_be_visible()
    # The operation's section, with its path, is rendered in the middle panel.
    events_list = page.locator('[data-section-id="tag/events/operation/events_list"]')
    expect(events_list).to_contain_text("/api/events/")
    screenshot(page, "redoc", full_page=False)

    # Redoc's menu links Redocly's logo from their CDN; the page's Content-Security-Policy
    # keeps the browser from even asking.
    assert offline.external_requests == []
    assert offline.page_errors == []


def test_the_network_beyond_the_live_server_is_cut_off(page, offline):
    """The guard the tests above rely on: a request to another host is aborted and recorded."""
    page.goto("/api/")
    outcome = page.evaluate("fetch('https://example.com/probe').then(() => 'reached', () => 'blocked')")
    assert outcome == "blocked"
    assert offline.external_requests == ["https://example.com/probe"]
