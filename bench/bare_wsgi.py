"""The limit: a bare WSGI app answering the benchmark's reads with one SQL query each.

No framework, no ORM: psycopg 3 and one connection per process (gunicorn sync workers, so one
request at a time per process). PostgreSQL builds the whole JSON of each page itself with
json_build_object / json_agg, in the same shape as the API (``count``, ``next``,
``previous``, ``results`` with units, citations with their source, and the derived
``status``), and the app only glues the count and the links around it.

It understands the subset of the API the benchmark uses:

- ``/api/events/?country=&date_from=&date_to=&bbox=&q=&known_at=&limit=&offset=``
- ``/api/events/<id>/``
- ``/api/casualty-reports/?unit=&known_at=&limit=&offset=`` (the unit and all units under it)
- ``/api/sources/?limit=&offset=``

``known_at`` is the API's time travel: only the claims known by that day (the day the database
keeps in ``known_since``, with the API's condition: see ``known_by``), each with only the
citations known by then and the status those citations and the links known by then give it.

``count`` follows the API's rule closely: exact up to 1,000 rows; past that the table's
estimate (``pg_class.reltuples``) for an unfiltered list and 1,001 for a filtered one.
The claim status is computed as the API computes it (see ``status_sql``).

Anything else is a 404. Serve it like the service:

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/osint_bench \\
        gunicorn --pythonpath bench bare_wsgi:application --workers 2 --bind 127.0.0.1:8001
"""

import datetime
import json
import os
import re
from urllib.parse import parse_qs, urlencode

import psycopg

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/osint_bench")
_connection = None


def connection():
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True)
    return _connection


def known_on(alias):
    """The day the citation or link ``alias`` became known, as the API reckons it
    (events.known.known_on): its publication date, else the day it was recorded (UTC)."""
    return f"coalesce({alias}.published_date, ({alias}.created_at AT TIME ZONE 'UTC')::date)"


def known_only(alias, known):
    """The condition keeping the citations or links ``alias`` known by ``known_at``, if ``known``."""
    return f" AND {known_on(alias)} <= %(known_at)s" if known else ""


def status_sql(link_table, subject_column, alias, known=False):
    """The claim status of ``alias``, as in events.selectors.claim_status: the lowest rank of its
    links and citations (1 retracted, 2 superseded, 3 disputed, 4 confirmed, else claimed); with
    ``known``, of those known by ``known_at``."""
    link_rank = (
        "(SELECT min(CASE l.relation WHEN 'retracts' THEN 1 WHEN 'supersedes' THEN 2 WHEN 'revises' THEN 2 "
        f"WHEN 'disputes' THEN 3 WHEN 'confirms' THEN 4 ELSE 5 END) FROM {link_table} l "
        f"WHERE l.to_claim_id = {alias}.id{known_only('l', known)})"
    )
    citation_rank = (
        "(SELECT min(CASE c.role WHEN 'disputed_by' THEN 3 WHEN 'confirmed_by' THEN 4 ELSE 5 END) "
        f"FROM events_citation c WHERE c.{subject_column} = {alias}.id{known_only('c', known)})"
    )
    return (
        f"CASE LEAST({link_rank}, {citation_rank}) WHEN 1 THEN 'retracted' WHEN 2 THEN 'superseded' "
        "WHEN 3 THEN 'disputed' WHEN 4 THEN 'confirmed' ELSE 'claimed' END"
    )


def citations_sql(subject_column, alias, known=False):
    return (
        "COALESCE((SELECT json_agg(json_build_object("
        "'id', c.id, 'source', json_build_object('id', s.id, 'url', %(base)s || 'sources/' || s.id || '/', "
        "'name', s.name, 'slug', s.slug, 'kind', s.kind, 'country', s.country, 'reliability', s.reliability), "
        "'role', c.role, 'url', c.url, 'title', c.title, 'published_date', c.published_date, "
        "'accessed_date', c.accessed_date, 'archive_url', c.archive_url, 'quote', c.quote) ORDER BY c.id) "
        "FROM events_citation c JOIN events_source s ON s.id = c.source_id "
        f"WHERE c.{subject_column} = {alias}.id{known_only('c', known)}), '[]'::json)"
    )


def unit_brief(alias):
    return (
        f"json_build_object('id', {alias}.id, 'url', %(base)s || 'units/' || {alias}.id || '/', "
        f"'name', {alias}.name, 'country', {alias}.country, 'echelon', {alias}.echelon)"
    )


def event_object(known=False):
    """An event as the API shows it, in SQL; with ``known``, as it was known on ``known_at``."""
    return (
        "json_build_object("
        "'id', e.id, 'url', %(base)s || 'events/' || e.id || '/', 'title', e.title, 'description', e.description, "
        "'type', e.type, 'start_date', e.start_date, 'end_date', e.end_date, 'date_precision', e.date_precision, "
        "'date_text', e.date_text, 'expected', e.expected, 'place_name', e.place_name, 'admin1', e.admin1, "
        "'country', e.country, 'latitude', e.latitude, 'longitude', e.longitude, "
        "'location_precision', e.location_precision, 'personnel_low', e.personnel_low, "
        "'personnel_best', e.personnel_best, 'personnel_high', e.personnel_high, "
        "'units', COALESCE((SELECT json_agg(json_build_object('id', eu.id, 'unit', " + unit_brief("u") + ", "
        "'role', eu.role) ORDER BY eu.id) FROM events_eventunit eu JOIN events_unit u ON u.id = eu.unit_id "
        "WHERE eu.event_id = e.id), '[]'::json), "
        "'citations', " + citations_sql("event_id", "e", known) + ", "
        "'status', " + status_sql("events_eventlink", "event_id", "e", known) + ", "
        "'external_id', e.external_id, 'created_at', e.created_at, 'updated_at', e.updated_at)"
    )


def report_object(known=False):
    """A casualty report as the API shows it, in SQL; with ``known``, as it was known on ``known_at``."""
    return (
        "json_build_object("
        "'id', r.id, 'url', %(base)s || 'casualty-reports/' || r.id || '/', 'country', r.country, "
        "'unit', CASE WHEN u.id IS NULL THEN NULL ELSE " + unit_brief("u") + " END, "
        "'event', CASE WHEN ev.id IS NULL THEN NULL ELSE json_build_object('id', ev.id, "
        "'url', %(base)s || 'events/' || ev.id || '/', 'title', ev.title, 'type', ev.type, "
        "'start_date', ev.start_date, 'end_date', ev.end_date) END, "
        "'category', r.category, 'low', r.low, 'best', r.best, 'high', r.high, 'kind', r.kind, "
        "'as_of_date', r.as_of_date, 'period_start', r.period_start, 'horizon_date', r.horizon_date, "
        "'date_precision', r.date_precision, 'date_text', r.date_text, 'credibility', r.credibility, "
        "'description', r.description, 'citations', " + citations_sql("casualty_report_id", "r", known) + ", "
        "'status', " + status_sql("events_casualtyreportlink", "casualty_report_id", "r", known) + ", "
        "'external_id', r.external_id, 'created_at', r.created_at, 'updated_at', r.updated_at)"
    )


# As shown in a plain list and in a known_at list.
EVENT_OBJECTS = {False: event_object(), True: event_object(known=True)}
REPORT_OBJECTS = {False: report_object(), True: report_object(known=True)}
# The key of a known_at list of casualty reports, in the same order as the default one (an undated
# report last), as the API sorts it: an index holds it (events.known).
REPORT_KNOWN_KEY = "coalesce(r.as_of_date, '0001-01-01')"

# The unit and its sub-units as an array computed first (an InitPlan), so that the planner
# probes the unit_id index with = ANY(...) instead of hash-joining a CTE it cannot estimate
# against the whole table.
SUBTREE_IDS = (
    "ARRAY(WITH RECURSIVE subtree(id) AS (SELECT id FROM events_unit WHERE id = %(unit)s "
    "UNION SELECT child.id FROM events_unit child JOIN subtree ON child.parent_id = subtree.id) "
    "SELECT id FROM subtree)"
)
# As the API: counts are exact up to this many rows. Past it the API reports the planner's
# estimate for the filters; this app reports the limit plus one (filtered) or the table's
# estimate (unfiltered), which costs the same or less.
EXACT_COUNT_LIMIT = 1_000


def count_sql(table, alias, where):
    """The count, bounded as the API's (lazy InitPlans)."""
    bounded = f"(SELECT count(*) FROM (SELECT 1 FROM {table} {alias} WHERE {where} LIMIT {EXACT_COUNT_LIMIT + 1}) b)"
    if where != "TRUE":
        return bounded
    estimate = f"(SELECT reltuples::bigint FROM pg_class WHERE oid = '{table}'::regclass)"
    return f"CASE WHEN {estimate} > {EXACT_COUNT_LIMIT} THEN {estimate} ELSE {bounded} END"


class BadRequest(Exception):
    pass


def known_day(params):
    """The day of ``known_at``, or None without it."""
    if "known_at" not in params:
        return None
    try:
        return datetime.date.fromisoformat(params["known_at"])
    except ValueError:
        raise BadRequest("known_at") from None


def known_by(table, alias, date, key):
    """The API's condition for a claim known by ``known_at`` (events.known.KnownBy): its kept day
    on or before it, and its list's order key (``key``, from the column ``date``) no later than
    the latest date such a claim can have: the day itself, or the latest date of the claims known
    before their own date (a partial index holds them; the OFFSET keeps PostgreSQL from
    rewriting the max into a walk down the dates' index)."""
    early = f"SELECT {date} AS day FROM {table} WHERE known_since < {date} AND known_since <= %(known_at)s OFFSET 0"
    return (
        f"{alias}.known_since <= %(known_at)s "
        f"AND {key} <= greatest(%(known_at)s::date, (SELECT max(day) FROM ({early}) AS early))"
    )


def event_filters(params):
    where, args = [], {}
    if "country" in params:
        where.append("e.country = %(country)s")
        args["country"] = params["country"]
    if "date_from" in params:
        where.append("e.end_date >= %(date_from)s")
        args["date_from"] = params["date_from"]
    if "date_to" in params:
        where.append("e.start_date <= %(date_to)s")
        args["date_to"] = params["date_to"]
    if "bbox" in params:
        try:
            args["min_lon"], args["min_lat"], args["max_lon"], args["max_lat"] = map(float, params["bbox"].split(","))
        except ValueError:
            raise BadRequest("bbox") from None
        where.append(
            "e.longitude >= %(min_lon)s AND e.longitude <= %(max_lon)s "
            "AND e.latitude >= %(min_lat)s AND e.latitude <= %(max_lat)s"
        )
    if params.get("q", "").strip():
        # The same full-text index as the service (events/search.py); one word is one term.
        args["q"] = params["q"].strip()
        where.append("e.search_vector @@ websearch_to_tsquery('osint_search', %(q)s)")
    if (day := known_day(params)) is not None:
        args["known_at"] = day
        where.append(known_by("events_event", "e", "start_date", "e.start_date"))
    return " AND ".join(where) or "TRUE", args


def page_bounds(params):
    try:
        limit = int(params.get("limit") or 50)
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise BadRequest("limit/offset") from None
    if not 0 < limit <= 1000 or offset < 0:
        raise BadRequest("limit/offset")
    return limit, offset


def links(base_url, params, count, limit, offset):
    def url(new_offset):
        query = dict(params, limit=limit, offset=new_offset)
        if not new_offset:
            query.pop("offset")
        return f"{base_url}?{urlencode(query)}"

    following = url(offset + limit) if offset + limit < count else None
    previous = url(max(offset - limit, 0)) if offset > 0 else None
    return following, previous


def list_page(sql, args, base_url, params, limit, offset):
    with connection().cursor() as cursor:
        cursor.execute(sql, args)
        count, results = cursor.fetchone()
    following, previous = links(base_url, params, count, limit, offset)
    return (
        f'{{"count":{count},"next":{json.dumps(following)},"previous":{json.dumps(previous)},"results":{results}}}'
    ).encode()


def events(params, base, base_url):
    where, args = event_filters(params)
    limit, offset = page_bounds(params)
    args.update(base=base, limit=limit, offset=offset)
    sql = (
        f"WITH page AS (SELECT * FROM events_event e WHERE {where} "
        "ORDER BY e.start_date DESC, e.id DESC LIMIT %(limit)s OFFSET %(offset)s) "
        f"SELECT {count_sql('events_event', 'e', where)}, "
        f"COALESCE(json_agg({EVENT_OBJECTS['known_at' in args]} ORDER BY e.start_date DESC, e.id DESC), "
        "'[]'::json)::text FROM page e"
    )
    return list_page(sql, args, base_url, params, limit, offset)


def event(pk, base):
    with connection().cursor() as cursor:
        sql = f"SELECT {EVENT_OBJECTS[False]}::text FROM events_event e WHERE e.id = %(pk)s"
        cursor.execute(sql, {"pk": pk, "base": base})
        row = cursor.fetchone()
    return None if row is None else row[0].encode()


def casualty_reports(params, base, base_url):
    limit, offset = page_bounds(params)
    args = {"base": base, "limit": limit, "offset": offset}
    day = known_day(params)
    where, order = [], "r.as_of_date DESC NULLS LAST"
    if "unit" in params:
        try:
            args["unit"] = int(params["unit"])
        except ValueError:
            raise BadRequest("unit") from None
        where.append(f"r.unit_id = ANY({SUBTREE_IDS})")
        # The planner cannot see the subtree's ids and would walk the whole table in date order
        # hoping to meet them soon; "+ 0" keeps it from that index (the API passes the ids).
        order = "r.as_of_date + 0 DESC NULLS LAST"
    elif day is not None:
        order = f"{REPORT_KNOWN_KEY} DESC"
    if day is not None:
        args["known_at"] = day
        where.append(known_by("events_casualtyreport", "r", "as_of_date", REPORT_KNOWN_KEY))
    where = " AND ".join(where) or "TRUE"
    sql = (
        f"WITH page AS (SELECT * FROM events_casualtyreport r WHERE {where} "
        f"ORDER BY {order}, r.id DESC LIMIT %(limit)s OFFSET %(offset)s) "
    )
    sql += (
        f"SELECT {count_sql('events_casualtyreport', 'r', where)}, "
        f"COALESCE(json_agg({REPORT_OBJECTS[day is not None]} ORDER BY r.as_of_date DESC NULLS LAST, r.id DESC), "
        "'[]'::json)::text "
        "FROM page r LEFT JOIN events_unit u ON u.id = r.unit_id LEFT JOIN events_event ev ON ev.id = r.event_id"
    )
    return list_page(sql, args, base_url, params, limit, offset)


SOURCE_OBJECT = (
    "json_build_object('id', s.id, 'url', %(base)s || 'sources/' || s.id || '/', 'name', s.name, "
    "'aliases', s.aliases, 'slug', s.slug, 'kind', s.kind, 'country', s.country, 'homepage', s.homepage, "
    "'description', s.description, 'reliability', s.reliability, 'party', s.party, 'citation_count', "
    "coalesce((SELECT k.citations FROM events_source_citations k WHERE k.source_id = s.id), 0), "
    "'created_at', s.created_at, 'updated_at', s.updated_at)"
)


def sources(params, base, base_url):
    """Sources by name with each one's citation count, read from the counts the database keeps."""
    limit, offset = page_bounds(params)
    args = {"base": base, "limit": limit, "offset": offset}
    sql = (
        "WITH page AS (SELECT * FROM events_source s ORDER BY s.name, s.id LIMIT %(limit)s OFFSET %(offset)s) "
        f"SELECT {count_sql('events_source', 's', 'TRUE')}, "
        f"COALESCE(json_agg({SOURCE_OBJECT} ORDER BY s.name, s.id), '[]'::json)::text FROM page s"
    )
    return list_page(sql, args, base_url, params, limit, offset)


DETAIL = re.compile(r"^/api/events/(\d+)/$")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    params = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    base = f"http://{host}/api/"
    try:
        if path == "/api/events/":
            body = events(params, base, f"http://{host}{path}")
        elif path == "/api/casualty-reports/":
            body = casualty_reports(params, base, f"http://{host}{path}")
        elif path == "/api/sources/":
            body = sources(params, base, f"http://{host}{path}")
        elif match := DETAIL.match(path):
            body = event(int(match.group(1)), base)
        else:
            body = None
    except BadRequest as error:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [json.dumps({"detail": f"Invalid {error}."}).encode()]
    if body is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"detail":"Not found."}']
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
