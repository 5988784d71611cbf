"""The `facesynth` console script.

Subcommands are contributed by each stage through the `facesynth.commands` entry-point
group (see pyproject.toml): each entry is `register(subparsers)`, which adds parsers whose
`func(args) -> int` runs the command. This keeps the data flow one way: the CLI lives in
cluster/ but never imports recognition/ by name.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from core.errors import FacesynthError

# Order fixes the order of `facesynth --help`.
_STAGES = ("gen", "render", "cluster", "recognition")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facesynth", description="Synthetic face images for training face recognition.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    found = {ep.name: ep for ep in entry_points(group="facesynth.commands")}
    for name in sorted(found, key=lambda n: _STAGES.index(n) if n in _STAGES else len(_STAGES)):
        found[name].load()(sub)
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
        print(f"facesynth: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facesynth: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
