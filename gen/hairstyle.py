"""An identity's scalp hair style: pure, seeded parameters (render/hair_mesh.py builds the geometry).

One style per identity, from its own stream (seed, STREAM_HAIRSTYLE, identity), so every image of
an identity shares its hair and drawing it never shifts any other draw. The colour and the front
hairline come from the identity's appearance attributes (gen.appearance), so the geometry sits on
the painted scalp cap and has the same colour.

Lengths are in cm on the head (ICT units). Per style (STYLE_SHAPES):
  thickness  hair depth on the crown; it thins towards the edges of the hair
  nape       how far the hair reaches below the ear canal at the back (negative: above it)
  hang       0 = the hair follows the neck, 1 = it falls straight down from the widest point
  ears       whether the hair covers the ears
  curl       0 straight strands .. 1 tight curls (a lumpy surface and short, round clumps)
  recede     extra height of the front hairline, cm, deepest at the temples (an M-shaped line)
  bun        hair gathered in a bun at the back of the head
Typical adult figures: scalp hair ~0.5-1.5 cm deep when short, a forehead (hairline to brow) of
~5.5-6.5 cm (Farkas, "Anthropometry of the Head and Face", 1994: tr-g).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from core.rng import stream, weighted_choice
from gen.config import HairStyleConfig
from gen.sex import SexConfig, hair_style_weights

STREAM_HAIRSTYLE = 41

STYLE_SHAPES: dict[str, dict] = {
    "short": dict(thickness=0.7, nape=6.5, hang=0.0, ears=False, curl=0.0, recede=0.0, bun=False),
    "medium": dict(thickness=1.3, nape=10.0, hang=0.45, ears=True, curl=0.0, recede=0.0, bun=False),
    "long": dict(thickness=1.3, nape=17.0, hang=1.0, ears=True, curl=0.0, recede=0.0, bun=False),
    "curly": dict(thickness=2.4, nape=9.0, hang=0.6, ears=True, curl=1.0, recede=0.0, bun=False),
    "tied_back": dict(thickness=0.45, nape=6.0, hang=0.0, ears=False, curl=0.0, recede=0.0, bun=True),
    "receding": dict(thickness=0.5, nape=6.0, hang=0.0, ears=False, curl=0.0, recede=2.5, bun=False),
    "bald": dict(thickness=0.0, nape=0.0, hang=0.0, ears=False, curl=0.0, recede=0.0, bun=False),
}
FRINGE_STYLES = ("short", "medium", "long", "curly")


@dataclass(frozen=True)
class HairStyle:
    style: str
    color: tuple[int, int, int]  # sRGB
    thickness: float  # cm on the crown
    nape: float  # cm below the ear canal at the back
    hang: float
    ears: bool
    curl: float
    forehead: float  # cm from the brows up to the front hairline
    recede: float  # cm, extra at the temples
    fringe: float  # cm the fringe comes down the forehead from the hairline (0: none)
    bun: bool
    texture_seed: int  # strands and lumps

    @property
    def has_geometry(self) -> bool:
        return self.style != "bald"

    def record(self) -> dict:
        return asdict(self)


def sample_hairstyle(cfg: HairStyleConfig, attributes: dict, seed: int, index: int,
                     sex: SexConfig | None = None) -> HairStyle:
    """Identity `index`'s hair style. `attributes`: the identity's appearance attributes (its
    'hair' entry: srgb colour, scalp bool, hairline in about [-1, 1], +1 = receded ~2 cm; its
    'sex', whose style weights `sex` gives)."""
    rng = stream(seed, STREAM_HAIRSTYLE, index)
    hair = attributes.get("hair", {})
    styles = cfg.styles if sex is None else hair_style_weights(cfg.styles, sex.look(attributes.get("sex")))
    name = weighted_choice(rng, styles)
    if not hair.get("scalp", True):
        name = "bald"  # the painted scalp is bare: geometry would contradict it
    shape = STYLE_SHAPES[name]
    volume = cfg.volume.min + (cfg.volume.max - cfg.volume.min) * rng.random()
    length = cfg.length.min + (cfg.length.max - cfg.length.min) * rng.random()
    has_fringe = rng.random() < cfg.fringe_prob and name in FRINGE_STYLES
    forehead = 5.8 + 1.0 * float(hair.get("hairline", 0.0))  # Farkas tr-g ~ 5.5-6.5 cm
    fringe = (forehead - 1.2 - 1.5 * rng.random()) if has_fringe else 0.0
    return HairStyle(
        style=name, color=tuple(int(c) for c in hair.get("srgb", (60, 40, 30))),
        thickness=float(shape["thickness"] * volume), nape=float(shape["nape"] * length), hang=float(shape["hang"]),
        ears=bool(shape["ears"]), curl=float(shape["curl"]), forehead=float(forehead),
        recede=float(shape["recede"] * (0.7 + 0.6 * rng.random())), fringe=float(max(fringe, 0.0)),
        bun=bool(shape["bun"]), texture_seed=int(rng.integers(0, 2**31 - 1)))


def style_counts(cfg: HairStyleConfig, n: int, seed: int = 0) -> dict[str, int]:
    """How often each style comes up among identities 0..n-1 with bare-scalp-free attributes
    (for docs and tests)."""
    out: dict[str, int] = {}
    for i in range(n):
        s = sample_hairstyle(cfg, {}, seed, i).style
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))

