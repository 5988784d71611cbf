"""Subcommands of this stage (registered through the facesynth.commands entry point)."""


def register(sub) -> None:
    """Add this stage's subparsers to `sub`."""
