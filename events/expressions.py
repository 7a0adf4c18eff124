"""Expressions on the row of a queryset's own table, for SQL that Django's expressions cannot write."""

from django.db.models import Expression


class OwnRowExpression(Expression):
    """An expression on the row of the queryset's own table, as Django's ``Col`` is.

    It remembers the alias of that table when resolved and follows it when Django relabels
    the query (inside a subquery, ``events_event`` becomes ``U0``).
    """

    def __init__(self, *, alias=None):
        super().__init__()
        self.alias = alias

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.alias = query.get_initial_alias()
        return resolved

    def relabeled_clone(self, change_map):
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def get_group_by_cols(self):
        return [self]

    def column(self, compiler, name):
        return f"{compiler.quote_name_unless_alias(self.alias)}.{compiler.connection.ops.quote_name(name)}"
