"""Severity of each sign of aging against age (years), in [0, 1]; the shapes and their sources.

Wrinkles. Graded atlases and 3D measurements agree on the order and shape: fine lines at the
forehead and outer eye corners from the late 20s, glabellar and under-eye lines in the 30s,
marionette lines and neck bands from the 40s, each deepening roughly steadily into the 70s, and
the nasolabial fold is present (faintly) from youth and deepens throughout (Bazin & Doublet,
"Skin Aging Atlas, Vol. 1: Caucasian Type", Med'Com 2007; Luebberding, Krueger & Kerscher,
"Quantification of age-related facial wrinkles in men and women using a three-dimensional fringe
projection method and validated assessment scales", Dermatol Surg 40(1):22-32, 2014). In more
pigmented skin the same signs come later (review: Vashi, de Castro Maymone & Kundu, "Aging
differences in ethnic skin", J Clin Aesthet Dermatol 9(1):31-38, 2016): onsets shift by up to
DARK_DELAY years with skin darkness. Onset/full ages below are our reading of those sources.

Grey hair. The "50-50-50" rule of thumb (half of people half grey at 50; Keogh & Walsh, Nature
207:877, 1965) overstates it: a worldwide survey found 6-23% of people, by ethnic group and hair
colour, with at least half grey hair at 50, and onset later in Asian and African than in
Caucasian groups (Panhard, Lozano & Loussouarn, "Greying of the human hair: a worldwide survey,
revisiting the '50' rule of thumb", Br J Dermatol 167(4):865-873, 2012). We draw an onset age
~ N(GRAY_ONSET_MEAN + darkness * GRAY_DARK_DELAY, GRAY_ONSET_SD) per identity and let the grey
share grow linearly over GRAY_RAMP years: half grey at onset + 25, so with these numbers about
13% of light-skinned identities (and ~4% of the darkest) are half grey at 50.

Hairline. Patterned recession and thinning become more common and more advanced with every decade
(Hamilton, Ann N Y Acad Sci 53:708-728, 1951; Norwood, "Male pattern baldness: classification and
incidence", South Med J 68:1359-1365, 1975). A share of identities (aging.recession_prob, scaled
by sex in gen/sex.py: mostly men) is susceptible, each with its own onset and pace.

Soft tissue. Young faces are full; with age facial fat compartments lose volume and descend
(jowls, deeper nasolabial and marionette folds, lower-lid bags) and the lips thin and lose red
(Donofrio, "Fat distribution: a morphologic study of the aging face", Dermatol Surg
26(12):1107-1112, 2000; Rohrich & Pessa, Plast Reconstr Surg 119(7):2219-2227, 2007; Penna et al.,
"The aging lip", Plast Reconstr Surg 124(2):624-628, 2009).

Age spots. Solar lentigines are sun-driven and rare before ~30, increasingly common after 40-50,
far more so in light skin (Bastiaens et al., "Solar lentigines are strongly related to sun
exposure in contrast to ephelides", Pigment Cell Res 17(3):225-229, 2004).
"""
from __future__ import annotations

import numpy as np

# region -> (onset age, age of full depth) for light skin.
WRINKLE_AGES = {"forehead": (26.0, 72.0), "glabella": (32.0, 75.0), "crows_feet": (28.0, 70.0),
                "under_eye": (30.0, 75.0), "nasolabial": (16.0, 78.0), "marionette": (40.0, 82.0),
                "neck": (38.0, 82.0)}
DARK_DELAY = 10.0  # years later onset for the darkest skin
GRAY_ONSET_MEAN, GRAY_ONSET_SD, GRAY_DARK_DELAY, GRAY_RAMP = 35.0, 9.0, 8.0, 50.0
SPOT_AGES = (30.0, 85.0)  # a spot's onset age is drawn uniformly here
SAG_AGES = (30.0, 85.0)  # soft-tissue descent
FULL_AGES = (18.0, 45.0)  # youthful fullness fades over these ages
TONE_AGES = (25.0, 80.0)  # uneven pigmentation
LIP_AGES = (30.0, 80.0)


def ramp(age: float, onset: float, full: float) -> float:
    """0 before onset, 1 from `full`, smooth in between."""
    t = float(np.clip((age - onset) / max(full - onset, 1e-6), 0.0, 1.0))
    return t * t * (3 - 2 * t)


def wrinkle_severity(age: float, darkness: float) -> dict[str, float]:
    d = DARK_DELAY * darkness
    return {r: ramp(age, a + d, b + d) for r, (a, b) in WRINKLE_AGES.items()}


def gray_share(age: float, onset: float, speed: float) -> float:
    """Share of grey scalp hairs at `age` for an identity whose greying starts at `onset`."""
    return float(np.clip((age - onset) * speed / GRAY_RAMP, 0.0, 1.0))


def sag(age: float) -> float:
    return ramp(age, *SAG_AGES)


def fullness(age: float) -> float:
    return 1.0 - ramp(age, *FULL_AGES)
