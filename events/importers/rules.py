"""The models' validation rules, applied to the plain values of an imported row.

An import checks every record with the rules the API applies: each field's ``null``,
``blank``, ``choices`` and validators (``max_length``, value ranges, URL and slug formats),
as ``Model.clean_fields()`` runs them, then the model's own ``clean()`` (low <= best <= high,
start <= end, coordinates given together). Building a model instance and calling
``clean_fields()`` for each record cost more than everything else an import does, so the rules
are read from the model fields once (:class:`FieldRule`) and applied to the values; ``clean()``
runs on an instance made without ``Model.__init__``. The rules stay the models': nothing here
restates them, and a change to a field's declaration changes what an import accepts.

Foreign keys are not checked (the importer sets them itself, and checking them costs a query
each), nor are database constraints one by one: ``clean()`` mirrors them, and the database
enforces them anyway.
"""

import datetime
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.core import validators
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.base import ModelState


@dataclass(frozen=True)
class FieldRule:
    """What ``Field.clean()`` checks of a value already of the field's Python type."""

    field: models.Field
    choices: frozenset | None
    # (validator, a test that the value passes it, or None): the test spares calling the
    # validator (slow: it builds its message parameters every time) when the value is valid.
    validators: tuple[tuple[Callable, Callable | None], ...]
    # Whether the field's empty values are Django's usual ones, which no date or number is.
    usual_empty_values: bool
    # True when a value passes every rule (most do), without building any error; None when
    # some validator has no quick test.
    valid: Callable | None

    @classmethod
    def of(cls, field: models.Field) -> "FieldRule":
        choices = None if field.choices is None else frozenset(value for value, _label in field.flatchoices)
        checks = tuple((validator, passes(validator)) for validator in field.validators)
        usual_empty_values = tuple(field.empty_values) == tuple(validators.EMPTY_VALUES)
        valid = quick_test(field.blank, choices, [test for _, test in checks]) if usual_empty_values else None
        return cls(field, choices, checks, usual_empty_values, valid)

    def errors(self, value) -> list[ValidationError]:
        """``Field.validate()`` (choices, null, blank), then the validators, as ``clean_fields()`` does."""
        field = self.field
        if self.usual_empty_values and (value.__class__ in NEVER_EMPTY or value.__class__ is str):
            empty = value == ""
        else:
            empty = value in field.empty_values
        if empty:
            if field.blank:
                return []  # clean_fields() skips blank values of fields that allow them
            if value is None and not field.null:
                return [ValidationError(field.error_messages["null"], code="null")]
            return [ValidationError(field.error_messages["blank"], code="blank")]
        if self.choices is not None and value not in self.choices:
            return [ValidationError(field.error_messages["invalid_choice"], "invalid_choice", {"value": value})]
        errors = []
        for validator, test in self.validators:
            if test is not None and test(value):
                continue
            try:
                validator(value)
            except ValidationError as error:
                if getattr(error, "code", None) in field.error_messages:
                    error.message = field.error_messages[error.code]
                errors.extend(error.error_list)
        return errors


# Types of which no value is among Django's empty values (None, "", [], (), {}).
NEVER_EMPTY = frozenset({int, float, bool, datetime.date, datetime.datetime})
CONTAINERS = frozenset({list, tuple, dict})


def quick_test(blank: bool, choices: frozenset | None, tests: list[Callable | None]) -> Callable | None:
    """A test that a value passes a field's rules: the verdict of :meth:`FieldRule.errors`, for less."""
    if None in tests:
        return None

    def valid(value) -> bool:
        if value is None or value == "" or (value.__class__ in CONTAINERS and not value):
            return blank
        if choices is not None and value not in choices:
            return False
        for test in tests:
            if not test(value):
                return False
        return True

    return valid


# Validators whose test is a comparison with their limit: the limit read from the validator.
COMPARISONS = {
    validators.MaxLengthValidator: lambda limit: lambda value: len(value) <= limit,
    validators.MinLengthValidator: lambda limit: lambda value: len(value) >= limit,
    validators.MaxValueValidator: lambda limit: lambda value: value <= limit,
    validators.MinValueValidator: lambda limit: lambda value: value >= limit,
}


def passes(validator) -> Callable | None:
    """A quick test that a value passes ``validator``; None when there is none (the validator is called)."""
    kind = type(validator)
    if kind is validators.ProhibitNullCharactersValidator:
        return lambda value: "\x00" not in str(value)
    if kind is validators.RegexValidator:  # not its subclasses (URLs, emails), which check more
        search, inverse = validator.regex.search, validator.inverse_match
        return lambda value: (search(str(value)) is None) is inverse
    comparison = COMPARISONS.get(kind)
    if comparison is None or callable(validator.limit_value):
        return None
    return comparison(validator.limit_value)


class ModelRules:
    """A model's field rules and its ``clean()``, for records given as ``{attname: value}``."""

    def __init__(self, model: type[models.Model], *, exclude: tuple[str, ...] = ()):
        self.model = model
        fields = [
            field
            for field in model._meta.concrete_fields
            if field.editable and field.name not in exclude and not field.primary_key
        ]
        # Fields with choices first, as the import reported them before.
        fields.sort(key=lambda field: field.choices is None)
        self.rules = {field.attname: FieldRule.of(field) for field in fields}
        self.order = {attname: position for position, attname in enumerate(self.rules)}
        self.cleans = model.clean is not models.Model.clean  # Model.clean() checks nothing
        self.defaults = {field.attname: field.get_default() for field in model._meta.concrete_fields}
        # A field the record leaves out has its default; its errors, if any, are the same every time.
        self.default_errors = {}
        for attname, rule in self.rules.items():
            if found := rule.errors(self.defaults[attname]):
                self.default_errors[attname] = found

    def errors(self, values: Mapping) -> dict[str, list[ValidationError]]:
        """Errors by field name (``NON_FIELD_ERRORS`` for the record as a whole), as ``full_clean()`` gives them."""
        found = {attname: errors for attname, errors in self.default_errors.items() if attname not in values}
        rules = self.rules
        for attname, value in values.items():
            rule = rules.get(attname)
            if rule is None or (rule.valid is not None and rule.valid(value)):
                continue
            if field_errors := rule.errors(value):
                found[attname] = field_errors
        errors = {rules[attname].field.name: found[attname] for attname in sorted(found, key=self.order.get)}
        if self.cleans:
            try:
                self.instance(values).clean()
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        return errors

    def instance(self, values: Mapping) -> models.Model:
        """An unsaved instance for ``clean()``, which reads attributes only: ``Model.__init__`` costs ten times more."""
        instance = self.model.__new__(self.model)
        instance.__dict__.update(self.defaults, _state=ModelState())
        instance.__dict__.update(values)
        return instance

    def problems(self, values: Mapping, *, columns: Mapping[str, str]) -> list[tuple[str, str]]:
        """(CSV column, message) for each field in error, the column found in ``columns`` by field name."""
        problems = []
        for name, messages in self.errors(values).items():
            column = columns.get(name, name) if name != NON_FIELD_ERRORS else ""
            text = " ".join(message for error in messages for message in ValidationError(error).messages)
            problems.append((column, text))
        return problems


@functools.cache
def rules_of(model: type[models.Model], exclude: tuple[str, ...] = ()) -> ModelRules:
    return ModelRules(model, exclude=exclude)
