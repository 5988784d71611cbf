"""`facesynth models ...` subcommands (registered through the facesynth.commands entry point)."""
from __future__ import annotations

import argparse


def _import(args) -> int:
    from gen.registry import import_model
    path = import_model(args.name, args.source)
    print(f"imported {args.name} into {path}")
    return 0


def _list(args) -> int:
    from gen.facemodel import installed_models
    from gen.paths import models_dir
    rows = installed_models()
    if not rows:
        print(f"no models installed in {models_dir()}; run `facesynth models import ict-facekit`")
        return 0
    for m in rows:
        print(f"{m['name']:<14} {m['version']:<16} {m.get('n_vertices', '?')} vertices  "
              f"{len(m.get('expr_names', []))} expressions  {m['path']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="import, list and export face models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = msub.add_parser("import", help="convert a model's upstream files into the cache")
    p.add_argument("name", help="model name (ict-facekit)")
    p.add_argument("source", nargs="?", help="checkout, FaceXModel folder or .tar.xz "
                   "(default: $FACESYNTH_ICT_SOURCE, ../shared, then the upstream download)")
    p.set_defaults(func=_import)
    p = msub.add_parser("list", help="show installed models")
    p.set_defaults(func=_list)
