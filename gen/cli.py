"""`facesynth models ...` subcommands (registered by the CLI root from its fixed module list)."""
from __future__ import annotations

import argparse


def _import(args) -> int:
    from gen.registry import import_model
    path = import_model(args.name, args.source)
    print(f"imported {args.name} into {path}")
    return 0


def _list(args) -> int:
    from gen.modelcache import installed_models
    from core.paths import models_dir
    rows = installed_models()
    if not rows:
        print(f"no models installed in {models_dir()}; run `facesynth models import ict-facekit`")
        return 0
    for m in rows:
        print(f"{m['name']:<14} {m['version']:<16} {m.get('n_vertices', '?')} vertices  "
              f"{len(m.get('expr_names', []))} expressions  {m['path']}")
    return 0


def _export_identity(args) -> int:
    from gen.config import GenConfig, load_gen_config
    from core.errors import FacesynthError
    from gen.export import export_identity
    from gen.facemodel import load_model
    from gen.identity import make_identity
    cfg = load_gen_config(args.config) if args.config else GenConfig()
    if args.overrides:  # keys of the gen section, validated like the file
        from core.config import parse_model
        from core.overrides import apply_overrides, source_name
        cfg = parse_model(GenConfig, apply_overrides(cfg.model_dump(mode="json"), args.overrides),
                          source_name(args.config, args.overrides))
    if args.model:
        cfg = cfg.model_copy(update={"model": args.model})
    if args.index < 0 or args.seed < 0:
        raise FacesynthError(f"--index {args.index} --seed {args.seed}: both must be non-negative integers")
    model = load_model(cfg.model)
    identity = make_identity(model, cfg, args.seed, args.index)
    path = export_identity(model, identity, args.out)
    print(f"wrote identity {args.index} (seed {args.seed}) to {path}/identity.obj")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="import, list and export face models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = msub.add_parser("import", help="convert a model's upstream files into the cache")
    p.add_argument("name", help="model name: ict-facekit, or bfm2017 / bfm2009 with your own file")
    p.add_argument("source", nargs="?", help="ict-facekit: checkout, FaceXModel folder or .tar.xz "
                   "(default: $FACESYNTH_ICT_SOURCE, ../shared, then the upstream download); "
                   "bfm2017/bfm2009: the Basel model file (required)")
    p.set_defaults(func=_import)
    p = msub.add_parser("list", help="show installed models")
    p.set_defaults(func=_list)
    p = msub.add_parser("export-identity", help="write one identity as OBJ + MTL + PNG maps")
    p.add_argument("--index", type=int, required=True, help="identity index in the dataset")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--config", help="YAML with the gen section (or a job file with a `gen:` key)")
    p.add_argument("--model", help="model name (overrides the config)")
    p.add_argument("--out", required=True, help="output folder (created; replaced if it is an earlier export)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="gen config overrides, e.g. appearance.texture_size=256")
    p.set_defaults(func=_export_identity)
