"""What every CLI command shares: the Kit from the context, --json output, errors.

Commands are thin: parse options, call one ``Kit`` method, render the result.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

import click

from ..errors import InvalidInput


class CliState:
    """Lazily builds the one Kit for this process (from --home)."""

    def __init__(self, home: str | None, audit_url: str | None = None):
        self.home = home
        self.audit_url = audit_url
        self._kit = None

    @property
    def kit(self):
        if self._kit is None:
            from ..kit import Kit

            self._kit = Kit(home=self.home, audit_url=self.audit_url, interface="cli")
        return self._kit

    def close(self) -> None:
        """Close the Kit; runs as the click context exits, so an exception may be on its way out."""
        if self._kit is None:
            return
        if not _command_failing():
            self._kit.close()
            return
        # The command already failed and its one Error: line says why. Warnings from closing
        # (e.g. cache statistics that cannot be saved in an unwritable home) would only add
        # lines before it, and a failing close would replace the real error.
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        try:
            self._kit.close()
        except Exception:
            pass
        finally:
            logging.disable(previous)


def _command_failing() -> bool:
    exc = sys.exc_info()[1]
    return exc is not None and not (isinstance(exc, click.exceptions.Exit) and exc.exit_code == 0)


class FiniteFloat(click.FloatRange):
    """A float option that refuses nan and inf (click's FloatRange lets NaN through: every
    comparison with it is false) and values beyond the float range such as 1e400."""

    name = "finite float"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def pass_kit(fn: Callable) -> Callable:
    """Decorator: inject the Kit as the first argument."""

    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any):
        state = ctx.find_object(CliState)
        return ctx.invoke(fn, state.kit, *args, **kwargs)

    return update_wrapper(wrapper, fn)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document and nothing else on stdout."
)


def to_jsonable(value: Any) -> Any:
    """Objects may implement ``to_dict()``; CIDs and paths become strings."""
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Render a command's result: JSON document, or the human renderer."""
    if as_json or human is None:
        text = json.dumps(to_jsonable(data), indent=2, ensure_ascii=False)
        sys.stdout.write(_valid_utf8(text) + "\n")
    else:
        human(data)


def _valid_utf8(text: str) -> str:
    """Text that encodes as UTF-8: undecodable bytes (file names) become U+FFFD, as in kubo's JSON.

    Python keeps such bytes as lone surrogates, which stdout would write back as
    the raw bytes, leaving a JSON document that is not valid UTF-8.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    """A readable table on a terminal (rich), tab-separated when piped."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=title)
        for col in columns:
            table.add_column(col)
        for row in rows:  # escaped: a stored "[red]" is text, not rich markup
            table.add_row(*[escape(cell_text(row.get(col))) for col in columns])
        Console().print(table)
    else:
        for row in rows:
            sys.stdout.write("\t".join(cell_text(row.get(col)) for col in columns) + "\n")


# Control characters in stored text (an imported user name with ESC sequences, a
# newline or a CR) would clear the terminal or forge table lines: shown escaped.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list | dict):
        return json.dumps(to_jsonable(value), ensure_ascii=False)
    return str(value).translate(_CONTROL)


def load_json_file(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise InvalidInput(f"{what} file not found: {path}") from exc
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {what} file {path}: {exc}") from exc
