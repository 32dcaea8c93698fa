"""Typed wizard fields and steps: parsing, defaults, visibility and validation.

A field parses what a person typed (a terminal prompt, a web form, a JSON
answers file) into a typed value, or says in one line why it cannot. Secret
fields never show their value: not as a default, not in a summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..errors import InvalidInput

FIELD_TYPES = ("str", "int", "float", "bool", "choice", "secret", "url", "path", "list")
REDACTED = "***"
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "str"
    default: Any = None
    required: bool = True
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    help: str = ""
    # Shown (and validated) only when another answer has one of these values,
    # e.g. {"type": ("s3",)}.
    show_if: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"choice field {self.name} needs choices")

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    def visible(self, answers: dict[str, Any]) -> bool:
        return all(answers.get(other) in allowed for other, allowed in self.show_if.items())

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw``; ``None`` for an empty answer. Raises InvalidInput."""
        if raw is None or (isinstance(raw, str) and not raw.strip() and self.type != "secret"):
            return None
        kind = self.type
        if kind == "bool":
            return _parse_bool(raw)
        if kind == "int":
            value = _parse_number(raw, int)
        elif kind == "float":
            value = _parse_number(raw, float)
        elif kind == "list":
            value = _parse_list(raw)
        else:
            if not isinstance(raw, str):
                raise InvalidInput("must be text")
            value = raw if kind == "secret" else raw.strip()
            if kind == "secret" and not value:
                return None
        if kind == "choice" and value not in self.choices:
            raise InvalidInput(f"must be one of {', '.join(self.choices)}")
        if kind == "url":
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise InvalidInput("must be an http:// or https:// URL with a host")
        if kind in ("int", "float"):
            if self.min is not None and value < self.min:
                raise InvalidInput(f"must be at least {_plain(self.min)}")
            if self.max is not None and value > self.max:
                raise InvalidInput(f"must be at most {_plain(self.max)}")
        if self.pattern and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            raise InvalidInput(f"{self.help or 'has an invalid format'}")
        return value

    def display(self, value: Any) -> str:
        """How a value is shown to a person (secrets hidden)."""
        if value is None:
            return ""
        if self.secret:
            return REDACTED
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "default": None if self.secret else self.default,
            "required": self.required,
            "choices": list(self.choices),
            "min": self.min,
            "max": self.max,
            "help": self.help,
            "show_if": {k: list(v) for k, v in self.show_if.items()},
        }


# A step-level check sees the step's parsed values (and all answers so far)
# and returns {field: message} for cross-field problems.
StepCheck = Callable[[dict[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    description: str
    fields: tuple[Field, ...] = ()
    check: StepCheck | None = None

    def visible_fields(self, answers: dict[str, Any]) -> list[Field]:
        return [f for f in self.fields if f.visible(answers)]

    def validate(self, answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(parsed values of the visible fields, {field: error}) for this step."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        # Visibility may depend on fields of this same step (type → bucket), so
        # parse in order and judge visibility on the values parsed so far.
        current = dict(answers)
        for f in self.fields:
            if not f.visible(current):
                continue
            try:
                value = f.parse(answers.get(f.name, f.default))
            except InvalidInput as exc:
                errors[f.name] = str(exc)
                continue
            if value is None and f.default is not None and f.name not in answers:
                value = f.default
            if value is None and f.required:
                errors[f.name] = "is required"
                continue
            values[f.name] = value
            current[f.name] = value
        if not errors and self.check is not None:
            errors.update(self.check({**answers, **values}))
        return values, errors

    def to_dict(self, answers: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
        }


class StepInvalid(InvalidInput):
    """A step's answers did not validate; ``errors`` maps field names to messages."""

    def __init__(self, step: Step, errors: dict[str, str]):
        self.step = step
        self.errors = errors
        detail = "; ".join(f"{name}: {msg}" for name, msg in errors.items())
        super().__init__(f"step '{step.name}' ({step.title}): {detail}")


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise InvalidInput("must be yes or no")


def _parse_number(raw: Any, kind: type) -> int | float:
    if isinstance(raw, bool):
        raise InvalidInput("must be a number")
    try:
        if kind is int:
            if isinstance(raw, float):
                if not raw.is_integer():
                    raise ValueError
                return int(raw)
            return int(str(raw).strip())
        value = float(raw) if not isinstance(raw, str) else float(raw.strip())
    except (TypeError, ValueError):
        raise InvalidInput("must be a whole number" if kind is int else "must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput("must be a finite number")
    return value


def _parse_list(raw: Any) -> list[str]:
    if isinstance(raw, str):
        items = [p.strip() for p in raw.split(",")]
    elif isinstance(raw, list | tuple):
        items = [str(p).strip() if isinstance(p, str) else p for p in raw]
        if not all(isinstance(p, str) for p in items):
            raise InvalidInput("must be a list of text values")
    else:
        raise InvalidInput("must be a comma-separated list")
    return [p for p in items if p]


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
