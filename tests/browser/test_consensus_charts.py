"""Consensus charts in Chromium: the SVG and PNG render, with the marks the data calls for, and
the admin shows a report's subject and a unit's subjects on their change pages."""

from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import expect

PASSWORD = "charts-browser-password-1"
CONTINGENT = "/api/consensus/?country=KP&category=casualties&unit__exact=1&event__isnull=true"


def test_the_svg_chart_renders_with_a_mark_per_claim_and_dashed_projections(page, offline, screenshot):
    call_command("load_seed", verbosity=0)
    page.goto(f"{CONTINGENT}&as_of=2025-02-03&format=svg")
    # Zelenskyy's 4,000 (report 1) and the ISW's projection of 12,000 by mid-April (report 8).
    expect(page.locator("#claim-1")).to_have_count(1)
    expect(page.locator("#projection-8")).to_have_count(1)
    dash = page.locator("#projection-8 path").first.get_attribute("style") or ""
    assert "stroke-dasharray" in dash, dash
    assert page.locator("svg").evaluate("svg => svg.getBBox().width") > 300
    expect(page.locator("svg")).to_contain_text("Volodymyr Zelenskyy")
    screenshot(page, "consensus-svg")
    assert offline.external_requests == [] and offline.page_errors == []


def test_the_png_chart_of_a_series_loads_as_an_image(page, offline):
    call_command("load_seed", verbosity=0)
    page.goto("/api/")
    page.evaluate(
        """url => new Promise((resolve, reject) => {
            const image = document.createElement("img");
            image.id = "chart";
            image.onload = resolve;
            image.onerror = () => reject(new Error("the chart did not load"));
            image.src = url;
            document.body.appendChild(image);
        })""",
        f"{CONTINGENT}&interval=week&date_from=2025-01-01&date_to=2025-02-28&format=png",
    )
    size = page.locator("#chart").evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert size[0] >= 600 and size[1] >= 250, size
    assert offline.external_requests == []


def test_the_admin_shows_the_chart_of_a_reports_subject_and_of_a_unit(page, offline, screenshot):
    call_command("load_seed", verbosity=0)
    User.objects.create_superuser("charts", "charts@example.org", PASSWORD)
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill("charts")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    for address in ("/admin/events/casualtyreport/1/change/", "/admin/events/unit/1/change/"):
        page.goto(address)
        chart = page.locator("img.consensus-chart")
        expect(chart).to_have_count(1)
        chart.scroll_into_view_if_needed()
        page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=chart.element_handle())
        source = chart.get_attribute("src")
        assert "format=svg" in source and "unit__exact=1" in source, source
    screenshot(page, "admin-unit-consensus")
    assert offline.external_requests == []
