"""`ipfs-kit` entry point: the root group, global options and error mapping."""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import IpfsKitError
from .common import CliState

# Command groups live in their own modules and register here.
COMMAND_MODULES = (
    "content",
    "audit",
    "auth",
    "performance",
    "backend",
    "audit_analytics",
    "dashboard",
    "serve",
    "mcp",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ipfs-kit")
@click.option(
    "--home",
    envvar="IPFS_KIT_HOME",
    type=click.Path(file_okay=False),
    help="Home directory (default: $IPFS_KIT_HOME or ~/.ipfs-kit).",
)
@click.option("--audit-url", envvar="IPFS_KIT_AUDIT_URL", help="Audit store: postgresql://... (default: SQLite in the home).")
@click.pass_context
def cli(ctx: click.Context, home: str | None, audit_url: str | None) -> None:
    """Content-addressed storage on IPFS with a tamper-evident audit log."""
    state = CliState(home, audit_url)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # group not built yet
            raise
        module.register(cli)


_register()


# click >= 8.2 raises this for a bare group (`ipfs-kit pin`); 8.1 prints the help itself.
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _os_error_text(exc: OSError) -> str:
    """``<strerror>: <path>`` (both paths for a rename), like the shell's tools say it."""
    reason = exc.strerror or str(exc)
    names = [os.fsdecode(n) if isinstance(n, bytes) else str(n)
             for n in (exc.filename, exc.filename2) if n is not None]
    return _one_line(f"{reason}: {' -> '.join(names)}" if names else reason)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and a non-zero exit."""
    try:
        # With standalone_mode=False, click returns the code of a raised Exit.
        rv = cli.main(args=argv, prog_name="ipfs-kit", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except IpfsKitError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except _NoArgsIsHelp as exc:  # `ipfs-kit pin`: the group's help, as click shows it
        exc.show()
        return exc.exit_code
    except click.UsageError as exc:
        # click's own form is three lines (usage, "Try ...", error); ours is the one Error: line.
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): not an error for the user.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except OSError as exc:  # the environment (a path, the disk, a vanished file), not a bug
        if os.environ.get("IPFS_KIT_DEBUG"):
            raise
        click.echo(f"Error: {_os_error_text(exc)}", err=True)
        return 1
    except Exception as exc:  # a bug: say so in one line, full trace only on request
        if os.environ.get("IPFS_KIT_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); rerun with IPFS_KIT_DEBUG=1 for details", err=True)
        return 70


if __name__ == "__main__":
    sys.exit(main())
