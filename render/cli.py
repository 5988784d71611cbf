"""`facesynth preview ...` subcommands (registered through the facesynth.commands entry point)."""
from __future__ import annotations

import argparse


def _load(args):
    from gen.config import GenConfig
    from gen.facemodel import load_model
    from core.config import load_yaml_model
    from core.overrides import load_with_overrides
    from render.config import RenderConfig
    gen_cfg = load_yaml_model(GenConfig, args.gen_config) if getattr(args, "gen_config", None) else GenConfig()
    render_cfg = load_with_overrides(RenderConfig, args.config, args.overrides)
    return load_model(gen_cfg.model), gen_cfg, render_cfg


def _bar(total: int, what: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=what, unit="img")


def _identities(args) -> int:
    from render.pipeline import ImageMaker
    from render.preview import clean, identities_sheet, save_png
    model, gen_cfg, render_cfg = _load(args)
    maker = ImageMaker(model, gen_cfg, clean(render_cfg), args.seed)
    with _bar(args.n, "identities") as bar:
        sheet = identities_sheet(maker, args.n, tile=args.tile, columns=args.columns, progress=bar.update)
    print(f"wrote {save_png(sheet, args.out)} ({args.n} identities: frontal, 3/4, profile)")
    return 0


def _renders(args) -> int:
    from render.pipeline import ImageMaker
    from render.preview import renders_sheet, save_png
    model, gen_cfg, render_cfg = _load(args)
    maker = ImageMaker(model, gen_cfg, render_cfg, args.seed)
    with _bar(args.identities * args.per, "renders") as bar:
        sheet = renders_sheet(maker, args.identities, args.per, tile=args.tile, landmarks=args.landmarks,
                              progress=bar.update)
    print(f"wrote {save_png(sheet, args.out)} ({args.identities} identities x {args.per} renders, yaw -80..80)")
    return 0


def _ages(args) -> int:
    from core.errors import FacesynthError
    from render.pipeline import ImageMaker
    from render.preview import ages_sheet, clean, save_png
    try:
        ids = [int(i) for i in args.identity.split(",")]
    except ValueError:
        ids = [-1]
    if min(ids) < 0 or args.seed < 0:
        raise FacesynthError(f"--identity {args.identity} --seed {args.seed}: identities (comma-separated) and "
                             "seed must be non-negative integers")
    if args.n < 2:
        raise FacesynthError(f"--n {args.n}: show at least 2 ages")
    try:
        ages = [float(a) for a in args.ages.split(",")] if args.ages else [20.0 + 60.0 * k / (args.n - 1)
                                                                           for k in range(args.n)]
    except ValueError:
        ages = []
    if not ages or min(ages) < 0 or max(ages) > 110:
        raise FacesynthError(f"--ages {args.ages}: give comma-separated ages in years, 0-110")
    model, gen_cfg, render_cfg = _load(args)
    maker = ImageMaker(model, gen_cfg, clean(render_cfg), args.seed)
    with _bar(len(ids) * len(ages), "ages") as bar:
        sheet = ages_sheet(maker, ids, ages, tile=args.tile, progress=bar.update)
    print(f"wrote {save_png(sheet, args.out)} (identity {args.identity} at {', '.join(f'{a:g}' for a in ages)})")
    return 0


def _poses(args) -> int:
    from core.overrides import load_with_overrides
    from render.config import RenderConfig
    from render.preview import pose_histogram
    render_cfg = load_with_overrides(RenderConfig, args.config, args.overrides)
    print(f"wrote {pose_histogram(render_cfg, args.n, args.out, args.seed)} ({args.n} sampled poses)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subparsers to `sub`."""
    prev = sub.add_parser("preview", help="contact sheets of identities and renders, pose histogram")
    psub = prev.add_subparsers(dest="preview_command", metavar="WHAT", required=True)

    def common(p, config=True):
        p.add_argument("--out", required=True, help="PNG to write")
        p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
        if config:
            p.add_argument("--config", help="render distribution YAML (default: built-in defaults, "
                                            "see configs/render-default.yaml)")
            p.add_argument("--gen-config", help="gen config YAML (default: built-in defaults)")
            p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                           help="overrides of the render config, e.g. pose.yaw.std=20")

    p = psub.add_parser("identities", help="frontal, 3/4 and profile view of each identity")
    p.add_argument("--n", type=int, default=16, help="number of identities (default 16)")
    p.add_argument("--tile", type=int, default=96, help="tile size in px (default 96)")
    p.add_argument("--columns", type=int, default=4, help="identities per row (default 4)")
    common(p)
    p.set_defaults(func=_identities)

    p = psub.add_parser("renders", help="identities x renders across the yaw range, as the config draws them")
    p.add_argument("--identities", type=int, default=4)
    p.add_argument("--per", type=int, default=8, help="renders per identity (default 8)")
    p.add_argument("--tile", type=int, default=112)
    p.add_argument("--landmarks", action="store_true", help="draw the 5 alignment points")
    common(p)
    p.set_defaults(func=_renders)

    p = psub.add_parser("ages", help="one identity at ages from 20 to 80 (gen/aging/)")
    p.add_argument("--identity", required=True, help="identity index, or several comma-separated (one row each)")
    p.add_argument("--n", type=int, default=7, help="number of ages, evenly from 20 to 80 (default 7)")
    p.add_argument("--ages", help="comma-separated ages in years instead, e.g. 25,45,65")
    p.add_argument("--tile", type=int, default=112)
    common(p)
    p.set_defaults(func=_ages)

    p = psub.add_parser("poses", help="histogram of sampled poses against the configured distribution")
    p.add_argument("--n", type=int, default=10000)
    common(p)
    p.set_defaults(func=_poses)
