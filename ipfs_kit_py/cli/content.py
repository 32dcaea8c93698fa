"""Content commands: add, cat, get, ls, stat, pin, gc, car, files, repo."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import click

from ..core.cid import cid_str
from ..errors import NotFound
from .common import emit, json_option, pass_kit, print_table


def _source_size(sources: tuple[str, ...]) -> int | None:
    total = 0
    for src in sources:
        if src == "-":
            return None
        if os.path.isdir(src):
            for root, _dirs, files in os.walk(src):
                for name in files:
                    try:
                        total += os.path.getsize(os.path.join(root, name))
                    except OSError:
                        pass
        elif os.path.exists(src):
            total += os.path.getsize(src)
    return total


@contextmanager
def _progress(enabled: bool, total: int | None, label: str):
    """A progress bar on stderr when it is a terminal and the input is large."""
    if not enabled or not sys.stderr.isatty() or (total is not None and total < 8 * 1024 * 1024):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Add directories recursively.")
@click.option("--cid-version", type=click.IntRange(0, 1), default=0, show_default=True, help="CID version.")
@click.option("--chunker", default="size-262144", show_default=True, help="Chunking: size-N (N bytes, at most 1 MiB).")
@click.option("--raw-leaves/--no-raw-leaves", default=None, help="Raw leaf blocks (default: on for CIDv1, off for CIDv0).")
@click.option("--trickle", is_flag=True, help="Trickle DAG layout instead of balanced.")
@click.option("-n", "--only-hash", is_flag=True, help="Only compute the CID; store nothing.")
@click.option("-w", "--wrap-with-directory", is_flag=True, help="Wrap the sources in a directory.")
@click.option("--pin/--no-pin", default=True, show_default=True, help="Pin the added root(s).")
@click.option("-H", "--hidden", is_flag=True, help="Include hidden files in recursive adds.")
@click.option("-q", "--quiet", is_flag=True, help="Print only CIDs.")
@json_option
@pass_kit
def add(kit, paths, recursive, cid_version, chunker, raw_leaves, trickle, only_hash,
        wrap_with_directory, pin, hidden, quiet, as_json):
    """Add files or directories (or - for stdin) and print their CIDs."""
    with _progress(not quiet and not as_json, _source_size(paths), "adding") as progress:
        result = kit.add(*paths, cid_version=cid_version, chunker=chunker, raw_leaves=raw_leaves,
                         trickle=trickle, only_hash=only_hash, wrap_with_directory=wrap_with_directory,
                         pin=pin and not only_hash, recursive=recursive, hidden=hidden,
                         stdin=sys.stdin.buffer, progress=progress)

    def human(res):
        for entry in res.entries:
            click.echo(entry.cid if quiet else f"added {entry.cid} {entry.name}".rstrip())

    emit(result, as_json, human)


@click.command()
@click.argument("path")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Byte offset to start at.")
@click.option("--length", type=click.IntRange(min=0), default=None, help="Maximum bytes to output.")
@pass_kit
def cat(kit, path, offset, length):
    """Write the content of CID[/path] to stdout (every block verified)."""
    kit.cat(path, out=sys.stdout.buffer, offset=offset, length=length)
    sys.stdout.buffer.flush()


@click.command()
@click.argument("path")
@click.option("-o", "--output", type=click.Path(), default=None, help="Where to write (default: the CID's name in .).")
@json_option
@pass_kit
def get(kit, path, output, as_json):
    """Write a file or directory tree from CID[/path] to the local file system."""
    if output is None:
        output = path.rstrip("/").rsplit("/", 1)[-1]
    result = kit.get(path, output)
    emit(result, as_json, lambda r: click.echo(f"saved {r['type']} {r['cid']} to {r['output']} ({r['bytes']} bytes)"))


@click.command()
@click.argument("path")
@json_option
@pass_kit
def ls(kit, path, as_json):
    """List the entries of a directory CID[/path]."""
    entries = kit.ls(path)
    emit(entries, as_json, lambda rows: print_table(rows, ["cid", "size", "type", "name"]))


@click.command()
@click.argument("path")
@json_option
@pass_kit
def stat(kit, path, as_json):
    """Size, block count and type of CID[/path]."""
    info = kit.stat(path)
    emit(info, as_json, lambda d: [click.echo(f"{k}: {v}") for k, v in d.items()])


@click.group()
def pin():
    """Keep content from garbage collection."""


@pin.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option("--type", "pin_type", type=click.Choice(["recursive", "direct"]), default="recursive", show_default=True)
@json_option
@pass_kit
def pin_add(kit, paths, pin_type, as_json):
    """Pin CIDs (recursive: the whole DAG; direct: one block)."""
    _resolve_all(kit, paths)
    results = kit.pin_add_many(list(paths), pin_type)
    emit(results, as_json, lambda rows: [click.echo(f"pinned {r['cid']} {r['type']}ly") for r in rows])


@pin.command("rm")
@click.argument("paths", nargs=-1, required=True)
@json_option
@pass_kit
def pin_rm(kit, paths, as_json):
    """Remove pins (the blocks stay until gc)."""
    cids = _resolve_all(kit, paths)
    pinned = {row["cid"] for kind in ("recursive", "direct") for row in kit.pin_ls(kind)}
    for cid in cids:
        if cid not in pinned:
            raise NotFound(f"{cid} is not pinned")
    results = [kit.pin_rm(cid) for cid in dict.fromkeys(cids)]  # a CID given twice is unpinned once
    emit(results, as_json, lambda rows: [click.echo(f"unpinned {r['cid']}") for r in rows])


def _resolve_all(kit, paths: tuple[str, ...]) -> list[str]:
    """The CID of every argument, before anything changes: one bad argument applies none."""
    return [cid_str(kit.content.resolve(path)) for path in paths]


@pin.command("ls")
@click.option("--type", "pin_type", type=click.Choice(["recursive", "direct", "indirect", "all"]),
              default="all", show_default=True)
@json_option
@pass_kit
def pin_ls(kit, pin_type, as_json):
    """List pins."""
    rows = kit.pin_ls(pin_type)
    emit(rows, as_json, lambda rs: [click.echo(f"{r['cid']} {r['type']}") for r in rs])


@click.command()
@json_option
@pass_kit
def gc(kit, as_json):
    """Remove blocks not reachable from a pin or the VFS root."""
    result = kit.gc()

    def human(r):
        for cid in r["removed"]:
            click.echo(f"removed {cid}")
        click.echo(f"freed {r['freed_bytes']} bytes in {r['removed_blocks']} blocks; kept {r['kept_blocks']}")

    emit(result, as_json, human)


@click.group()
def car():
    """Export and import CAR v1 archives."""


@car.command("export")
@click.argument("path")
@click.option("-o", "--output", type=click.Path(allow_dash=True), required=True,
              help="The .car file to write (- for stdout).")
@json_option
@pass_kit
def car_export(kit, path, output, as_json):
    """Write the DAG under CID[/path] to a CAR file (or - for stdout)."""
    if output == "-":
        if as_json:
            raise click.UsageError("--json cannot be used with -o -: stdout carries the CAR")
        kit.car_export(path, sys.stdout.buffer)  # stdout is the CAR: no summary line
        sys.stdout.buffer.flush()
        return
    result = kit.car_export(path, output)
    emit(result, as_json, lambda r: click.echo(f"exported {r['root']}: {r['blocks']} blocks, {r['bytes']} bytes to {r['output']}"))


@car.command("import")
@click.argument("source", type=click.Path(allow_dash=True))
@click.option("--pin/--no-pin", default=True, show_default=True, help="Pin the CAR's roots.")
@json_option
@pass_kit
def car_import(kit, source, pin, as_json):
    """Import a CAR file (or - for stdin); every block is verified, roots pinned."""
    src = sys.stdin.buffer if source == "-" else source
    result = kit.car_import(src, pin=pin)
    emit(result, as_json, lambda r: [click.echo(f"imported root {c}") for c in r["roots"]]
         + [click.echo(f"{r['blocks']} blocks ({r['new_blocks']} new), {r['bytes']} bytes")])


@click.group()
def files():
    """The VFS: named paths mapped to CIDs (like kubo's MFS)."""


@files.command("mkdir")
@click.argument("path")
@click.option("-p", "--parents", is_flag=True, help="Create parent directories as needed.")
@json_option
@pass_kit
def files_mkdir(kit, path, parents, as_json):
    """Create a directory."""
    emit(kit.files_mkdir(path, parents=parents), as_json, lambda r: click.echo(r["cid"]))


@files.command("write")
@click.argument("path")
@click.argument("source", type=click.Path(allow_dash=True), default="-")
@click.option("-p", "--parents", is_flag=True, help="Create parent directories as needed.")
@json_option
@pass_kit
def files_write(kit, path, source, parents, as_json):
    """Write SOURCE (a local file, or - for stdin) to the VFS PATH."""
    result = kit.files_write(path, source, parents=parents, stdin=sys.stdin.buffer)
    emit(result, as_json, lambda r: click.echo(r["cid"]))


@files.command("read")
@click.argument("path")
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--length", type=click.IntRange(min=0), default=None)
@pass_kit
def files_read(kit, path, offset, length):
    """Write a VFS file to stdout."""
    kit.files_read(path, out=sys.stdout.buffer, offset=offset, length=length)
    sys.stdout.buffer.flush()


@files.command("ls")
@click.argument("path", default="/")
@json_option
@pass_kit
def files_ls(kit, path, as_json):
    """List a VFS directory."""
    emit(kit.files_ls(path), as_json, lambda rows: print_table(rows, ["name", "type", "size", "cid"]))


@files.command("stat")
@click.argument("path", default="/")
@json_option
@pass_kit
def files_stat(kit, path, as_json):
    """CID, type and size of a VFS path (/ gives the root CID)."""
    emit(kit.files_stat(path), as_json, lambda d: [click.echo(f"{k}: {v}") for k, v in d.items()])


@files.command("rm")
@click.argument("path")
@click.option("-r", "--recursive", is_flag=True, help="Remove directories and their content.")
@json_option
@pass_kit
def files_rm(kit, path, recursive, as_json):
    """Remove a VFS path."""
    emit(kit.files_rm(path, recursive=recursive), as_json, lambda r: click.echo(f"removed {r['path']}"))


@files.command("mv")
@click.argument("source")
@click.argument("dest")
@json_option
@pass_kit
def files_mv(kit, source, dest, as_json):
    """Move a VFS path."""
    emit(kit.files_mv(source, dest), as_json, lambda r: click.echo(f"{r['path']} {r['cid']}"))


@files.command("cp")
@click.argument("source")
@click.argument("dest")
@json_option
@pass_kit
def files_cp(kit, source, dest, as_json):
    """Copy /ipfs/CID[/path] or a VFS path to DEST."""
    emit(kit.files_cp(source, dest), as_json, lambda r: click.echo(f"{r['path']} {r['cid']}"))


@click.group()
def repo():
    """The local repository."""


@repo.command("stat")
@json_option
@pass_kit
def repo_stat(kit, as_json):
    """Blocks, bytes, pins and the VFS root of this home."""
    emit(kit.repo_stat(), as_json, lambda d: [click.echo(f"{k}: {v}") for k, v in d.items()])


def register(cli: click.Group) -> None:
    for command in (add, cat, get, ls, stat, pin, gc, car, files, repo):
        cli.add_command(command)
