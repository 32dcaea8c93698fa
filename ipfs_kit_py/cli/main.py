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
    except click.ClickException as exc:
        exc.show()
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
    except Exception as exc:  # a bug: say so in one line, full trace only on request
        if os.environ.get("IPFS_KIT_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); rerun with IPFS_KIT_DEBUG=1 for details", err=True)
        return 70


if __name__ == "__main__":
    sys.exit(main())
