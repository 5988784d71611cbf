"""The `facesynth` console script.

Each stage contributes its subcommands through a `register(subparsers)` function in the
modules listed below; each adds parsers whose `func(args) -> int` runs the command. The list is
fixed (not installed entry-point metadata), so the CLI also works from a checkout that is not
pip-installed, such as a Ray job's working_dir. This root is the one module allowed to name a
later stage (recognition/); it only imports it by module name to register its commands.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from core.errors import FacesynthError, debug_enabled, first_line
from core.version import version

# Order fixes the order of `facesynth --help`.
COMMAND_MODULES = ("gen.cli", "render.cli", "cluster.commands", "recognition.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facesynth", description="Synthetic face images for training face recognition.")
    parser.add_argument("--version", action="version", version=f"facesynth {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FacesynthError as e:
        if debug_enabled():
            traceback.print_exc()
        print(f"facesynth: error: {first_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facesynth: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
