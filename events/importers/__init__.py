"""Importers for public conflict-event datasets and for our own claims CSV.

Each module reads one CSV layout (:mod:`.ucdp`, :mod:`.acled`, :mod:`.claims_csv`) and
:mod:`.base` does the rest the same way for all: validation with the models' rules, batched
and idempotent upserts by external id, history, a summary and a report of rejected rows.
The management commands ``import_ucdp``, ``import_acled``, ``import_csv`` and ``export_csv``
are thin wrappers around them.
"""
