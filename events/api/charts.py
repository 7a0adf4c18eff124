"""A consensus as a picture: ``/api/consensus/?...&format=svg`` (or ``png``).

One panel per subject of the page (the first ``MAX_PANELS``): dates across, figures up. Each
standing claim is drawn at its date as its best figure with a bar for its range (an arrow for
no upper bound), coloured by claimant; the agreement interval is a grey band (a step per period
in a series); projections are dashed lines from the claim's date to its horizon. Drawn by
matplotlib on the server (its Agg and SVG backends, its own fonts): nothing is fetched.

Each mark carries an id in the SVG (``claim-<id>``, ``projection-<id>``, ``agreement-<n>``),
so a page or a test can find it.
"""

import datetime
import io

from rest_framework import renderers

from ..consensus import best_figure

MAX_PANELS = 8
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"]


class ChartRenderer(renderers.BaseRenderer):
    """Renders a consensus answer (the JSON the view builds) as a chart; errors stay JSON (see the view)."""

    charset = None
    render_style = "binary"
    image_format = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        subjects = (data or {}).get("results", [])
        from matplotlib import rc_context  # loaded by the first chart: most workers never draw one

        figure = chart(subjects)
        buffer = io.BytesIO()
        metadata = {"Date": None} if self.image_format == "svg" else {}
        # Text stays text in an SVG: searchable, selectable, read out by screen readers.
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "consensus"}):
            figure.savefig(buffer, format=self.image_format, metadata=metadata, dpi=100)
        return buffer.getvalue()


class SVGRenderer(ChartRenderer):
    media_type = "image/svg+xml"
    format = "svg"
    image_format = "svg"


class PNGRenderer(ChartRenderer):
    media_type = "image/png"
    format = "png"
    image_format = "png"


def chart(subjects: list[dict]):
    from matplotlib.figure import Figure

    panels = subjects[:MAX_PANELS] or [None]
    figure = Figure(figsize=(9, 3.4 * len(panels)), layout="constrained")
    colours = {}
    for axes, subject in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels, strict=True):
        if subject is None:
            axes.set_title("No claims match")
            axes.set_axis_off()
            continue
        draw(axes, subject, colours)
    if len(subjects) > MAX_PANELS:
        figure.suptitle(f"The first {MAX_PANELS} of {len(subjects)} subjects on this page")
    return figure


def title(subject: dict) -> str:
    about = subject["subject"]
    parts = [about["country"] or "several countries", about["category"]]
    if about["unit"]:
        parts.append(about["unit"]["name"])
    if about["event"]:
        parts.append(about["event"]["title"])
    return " · ".join(parts)


def draw(axes, subject: dict, colours: dict):
    from matplotlib import dates as mdates

    periods = subject["periods"]
    claims, projections = {}, {}
    for period in periods:
        for claim in [*period["claims"], *period["denials"]]:
            claims[claim["id"]] = claim
        for claim in period["projections"]:
            projections[claim["id"]] = claim
    for claim in claims.values():
        draw_claim(axes, claim, colour_of(claim, colours))
    for claim in projections.values():
        draw_projection(axes, claim, colour_of(claim, colours))
    days = [day(c["date"]) for c in [*claims.values(), *projections.values()] if best_figure(c) is not None]
    days += [day(c["horizon_date"]) for c in projections.values() if c["horizon_date"]]
    days += [day(p["end"]) for p in periods if p["start"] is not None] + [
        day(p["start"]) for p in periods if p["start"]
    ]
    axes.set_title(title(subject), loc="left", fontsize=10)
    if not [d for d in days if d is not None]:
        unquantified = len(claims) + len(projections)
        axes.text(
            0.5, 0.5, f"{unquantified} standing claim{'s' * (unquantified != 1)} without figures" if unquantified
            else "No claim stands", transform=axes.transAxes, ha="center", va="center", color="#777777",
        )  # fmt: skip
        axes.set_xticks([])
        axes.set_yticks([])
        return
    first, last = min(d for d in days if d), max(d for d in days if d)
    pad = max(datetime.timedelta(days=7), (last - first) / 20)
    axes.set_xlim(first - pad, last + pad)
    draw_agreement(axes, periods)
    draw_median(axes, periods)
    axes.set_ylabel("figure")
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes.xaxis.get_major_locator()))
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        axes.legend(unique.values(), unique.keys(), fontsize=8, loc="best", frameon=False)


def colour_of(claim, colours) -> tuple[str, str]:
    name = claim["claimant"]["name"] if claim["claimant"] else "Unattributed"
    if name not in colours:
        colours[name] = COLOURS[len(colours) % len(COLOURS)]
    return name, colours[name]


def day(value) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def draw_claim(axes, claim, claimant):
    name, colour = claimant
    best = best_figure(claim)
    if best is None:
        return
    when = day(claim["date"])
    low = claim["low"] if claim["low"] is not None else best
    high = claim["high"] if claim["high"] is not None else best
    container = axes.errorbar(
        [when], [best], yerr=[[best - low], [high - best]], fmt="o" if claim["kind"] != "denial" else "x",
        color=colour, capsize=4, label=name,
    )  # fmt: skip
    marker, caps, bars = container.lines
    marker.set_gid(f"claim-{claim['id']}")
    for index, artist in enumerate([*caps, *bars]):
        artist.set_gid(f"claim-{claim['id']}-range-{index}")
    if claim["high"] is None and claim["low"] is not None and claim["best"] is None:
        arrow = axes.annotate(
            "", xy=(when, low * 1.25 + 1), xytext=(when, low), arrowprops={"arrowstyle": "->", "color": colour}
        )
        arrow.set_gid(f"claim-{claim['id']}-open")


def draw_projection(axes, claim, claimant):
    name, colour = claimant
    best = best_figure(claim)
    start, horizon = day(claim["date"]), day(claim["horizon_date"])
    if best is None or start is None:
        return
    end = horizon or start
    (line,) = axes.plot([start, end], [best, best], linestyle="--", color=colour, label=f"{name} (projection)")
    line.set_gid(f"projection-{claim['id']}")
    (marker,) = axes.plot([end], [best], marker=">", color=colour)
    marker.set_gid(f"projection-{claim['id']}-horizon")


def draw_median(axes, periods):
    """In a series, the reliability-weighted median of each period, as steps."""
    points = [(day(p["start"]), day(p["end"]), p["weighted_median"]) for p in periods if p["start"] is not None]
    points = [(start, end, median) for start, end, median in points if median is not None]
    if len(points) < 2:
        return
    xs = [x for start, end, _ in points for x in (start, end)]
    ys = [median for _, _, median in points for _ in (0, 1)]
    (line,) = axes.plot(xs, ys, color="#444444", linewidth=1, label="weighted median")
    line.set_gid("median")


def draw_agreement(axes, periods):
    for index, period in enumerate(periods):
        agreement = period["agreement"]
        if not agreement:
            continue
        high = agreement["high"] if agreement["high"] is not None else agreement["low"] * 1.25 + 1
        start, end = day(period["start"]), day(period["end"])
        if start is None:  # one date: a band across the chart
            band = axes.axhspan(agreement["low"], high, color="#999999", alpha=0.25, label="agreement")
        else:
            band = axes.fill_between(
                [start, end], [agreement["low"]] * 2, [high] * 2, color="#999999", alpha=0.25, label="agreement"
            )
        band.set_gid(f"agreement-{index}")
