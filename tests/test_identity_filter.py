"""The identity filter (render/identity_filter.py, cluster/identity_filter.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cluster.config import parse_job_config
from core.errors import FacesynthError
from render.config import IdentityFilterConfig
from render.identity_filter import (COHORT_VARIANT, age_change, candidate_probe, expected_false_accepts, run_filter, select,
                                    select_in_waves)


def _embedder(table: dict[tuple[int, int], list[float]]):
    def embed(i, t):
        e = np.zeros(128, np.float32)
        e[:2] = table[(i, t)]
        return e
    return embed


def test_greedy_keeps_the_first_far_candidate_and_else_the_one_with_fewest_close():
    table = {(0, 0): [0, 0],
             (1, 0): [0.1, 0], (1, 1): [1.0, 0], (1, 2): [0, 2.0],  # t=1 is the first far one
             (2, 0): [0.2, 0.1], (2, 1): [0.9, 0.1], (2, 2): [-0.5, 0.1],  # none far, each 1 close: farthest
             # none far: t=0 (and t=2) is 0.54 from its nearest but close to two; t=1 is 0.14 from
             # identity 1 and far from the other two, so it is the one kept
             (3, 0): [0.5, -0.2], (3, 1): [0.9, -0.1], (3, 2): [0.5, -0.2]}
    r = select(IdentityFilterConfig(enabled=True, min_distance=0.6, max_tries=3, cohort=0), _embedder(table), 4)
    assert r.variants.tolist() == [0, 1, 2, 1]
    assert r.unmet == 2 and r.tries == 1 + 2 + 3 + 3
    assert r.close.tolist() == [0, 0, 1, 1]
    assert r.nearest[1] == pytest.approx(1.0) and r.nearest[2] == pytest.approx(np.hypot(0.5, 0.1), abs=1e-6)
    assert r.nearest[3] == pytest.approx(np.hypot(0.1, 0.1), abs=1e-6)
    out = json.loads(json.dumps(r.to_json()))
    assert out["nearest"][0] == -1.0 and out["close"] == [0, 0, 1, 1]  # the first has no neighbour


def test_the_cohort_filters_the_first_identities_and_counts_by_its_weight():
    # three reference candidates sit around the origin; identity 0's first candidate is among them
    table = {(0, COHORT_VARIANT): [0, 0], (1, COHORT_VARIANT): [0.1, 0], (2, COHORT_VARIANT): [0, 0.1],
             (0, 0): [0.05, 0.05], (0, 1): [3.0, 0],
             # identity 1: t=0 is close to identity 0 (at 3, 0) only; t=1 to all three references only
             (1, 0): [3.2, 0], (1, 1): [0.2, 0.2]}
    base = dict(enabled=True, min_distance=0.6, max_tries=2)
    alone = select(IdentityFilterConfig(**base, cohort=0), _embedder(table), 2)
    assert alone.variants.tolist() == [0, 0] and alone.tries == 2  # without a cohort the first is kept
    half = select(IdentityFilterConfig(**base, cohort=3, cohort_weight=0.5), _embedder(table), 2)
    assert half.variants.tolist() == [1, 0]  # identity 1: one accepted (1) beats three references (1.5)
    assert half.tries == 3 + 2 + 2 and half.unmet == 1 and half.close.tolist() == [0, 1]
    quarter = select(IdentityFilterConfig(**base, cohort=3, cohort_weight=0.25), _embedder(table), 2)
    assert quarter.variants.tolist() == [1, 1]  # three references at 0.25 (0.75) beat one accepted
    assert quarter.close.tolist() == [0, 0]  # `close` counts accepted identities only


def test_expected_false_accepts_follow_the_curve():
    assert expected_false_accepts(np.array([0.55]), (0.55, 0.05)) == pytest.approx(0.5)
    assert expected_false_accepts(np.array([0.55 + 0.05 * np.log(3)]), (0.55, 0.05)) == pytest.approx(0.25)
    assert expected_false_accepts(np.array([0.0, 5.0]), (0.55, 0.05)) == pytest.approx(1.0, abs=1e-4)
    assert expected_false_accepts(np.zeros(0), (0.55, 0.05)) == 0.0


def test_the_expected_score_ranks_by_expected_false_accepts_not_by_count():
    # identities 0-2 are clear of each other; every candidate of identity 3 is close to one or two:
    # t=0 is 0.2 from identity 0 (count 1, expected ~1.06 with identity 1 at 0.7), t=1 is 0.59 from
    # identities 0 and 1 (count 2, expected 2 x 0.32), t=2 is 0.5 from identity 0 (count 1, 0.72)
    y = np.sqrt(0.59 ** 2 - 0.45 ** 2)
    table = {(0, 0): [0, 0], (1, 0): [0.9, 0], (2, 0): [0, 5],
             (3, 0): [0.2, 0], (3, 1): [0.45, -y], (3, 2): [-0.5, 0]}
    accepted = np.array([[0, 0], [0.9, 0], [0, 5]])
    curve = (0.55, 0.053)
    d = {t: np.linalg.norm(accepted - table[(3, t)], axis=1) for t in range(3)}
    assert [int((d[t] <= 0.6).sum()) for t in range(3)] == [1, 2, 1]
    exp = [expected_false_accepts(d[t], curve) for t in range(3)]
    assert exp[1] < exp[2] < exp[0]
    base = dict(enabled=True, min_distance=0.6, max_tries=3, cohort=0)
    count = select(IdentityFilterConfig(**base), _embedder(table), 4)
    expected = select(IdentityFilterConfig(**base, score="expected", far_curve=curve), _embedder(table), 4)
    assert count.variants.tolist() == [0, 0, 0, 2]  # t=0 and t=2 have one close each: the farther wins
    assert expected.variants.tolist() == [0, 0, 0, 1]  # two at 0.59 add fewer false accepts than one at 0.5
    assert expected.close.tolist() == [0, 0, 0, 2] and expected.unmet == count.unmet == 1
    # a clear candidate is still kept at once, whatever its expected false accepts
    table[(3, 0)] = [0, -0.61]
    assert select(IdentityFilterConfig(**base, score="expected"), _embedder(table), 4).variants[3] == 0


def test_aging_weight_prefers_the_candidate_whose_years_the_judge_sees():
    # two-stage probes (youngest, oldest), each stage laid out as _embedder's, over sqrt(2)
    def embed(i, t):
        young, old = table[(i, t)]
        e = np.zeros(256, np.float32)
        e[:2], e[128:130] = young, old
        return e / np.sqrt(2)
    # identity 1: t=0 changes 0.1 with age and lies 0.55 (RMS) from identity 0; t=1 changes 0.4 and
    # lies 0.49 from it; both are close, so without the weight the farther (t=0) is kept
    table = {(0, 0): ([0, 0], [0, 0]),
             (1, 0): ([0.55, 0.0], [0.55, 0.1]), (1, 1): ([0.4, 0.0], [0.4, 0.4])}
    assert age_change(embed(1, 0)) == pytest.approx(0.1, abs=1e-6)
    assert age_change(embed(1, 1)) == pytest.approx(0.4, abs=1e-6)
    assert age_change(np.ones(128, np.float32)) == 0.0  # one stage: nothing to see
    base = dict(enabled=True, min_distance=0.6, max_tries=2, cohort=0)
    assert select(IdentityFilterConfig(**base), embed, 2).variants.tolist() == [0, 0]
    assert select(IdentityFilterConfig(**base, aging_weight=1.0), embed, 2).variants.tolist() == [0, 1]
    for score in ("count", "expected"):  # the weight trades against either score
        weighted = select(IdentityFilterConfig(**base, score=score, aging_weight=20.0), embed, 2)
        assert weighted.variants.tolist() == [0, 1]
    # a clear candidate is still kept at once, however little it ages
    table[(1, 0)] = ([0.7, 0.0], [0.7, 0.0])
    assert select(IdentityFilterConfig(**base, aging_weight=20.0), embed, 2).variants.tolist() == [0, 0]


@pytest.mark.parametrize("min_distance,cohort", [(0.3, 0), (0.8, 0), (1.5, 0), (0.8, 6)])
def test_waves_give_what_the_sequential_pass_gives(min_distance, cohort):
    rng = np.random.default_rng(4)
    n, tries = 40, 5
    table = {(i, t): list(rng.normal(0, 0.7, 2)) for i in range(n) for t in range(tries)}
    table.update({(r, COHORT_VARIANT): list(rng.normal(0, 0.7, 2)) for r in range(cohort)})
    cfg = IdentityFilterConfig(enabled=True, min_distance=min_distance, max_tries=tries, cohort=cohort)
    seq = select(cfg, _embedder(table), n)
    calls = []

    def embed_many(pairs):
        calls.append(pairs)
        assert len(set(pairs)) == len(pairs) and all(t < tries or t == COHORT_VARIANT for _, t in pairs)
        return np.stack([_embedder(table)(i, t) for i, t in pairs])
    waves = select_in_waves(cfg, embed_many, n)
    assert waves.variants.tolist() == seq.variants.tolist() and waves.unmet == seq.unmet
    np.testing.assert_array_equal(waves.nearest, seq.nearest)
    np.testing.assert_array_equal(waves.close, seq.close)
    assert (calls[0] == [(r, COHORT_VARIANT) for r in range(cohort)]) == (cohort > 0)  # the cohort's own call
    assert len(calls) <= tries + (cohort > 0) and waves.tries >= seq.tries  # one wave per try; speculation may add


def test_the_maker_renders_the_accepted_candidate(face_model):
    from render.judges.face_id import FaceIdJudge
    from render.pipeline import ImageMaker
    cfg = parse_job_config({"seed": 4, "identities": 5, "images_per_identity": 1,
                            "gen": {"appearance": {"texture_size": 128}},
                            "render": {"identity_filter": {"enabled": True, "min_distance": 0.45, "max_tries": 3,
                                                           "cohort": 2}}})
    a = run_filter(face_model, cfg.gen, cfg.render, cfg.seed, 5)
    assert a.tries >= 5  # (determinism across processes: the job test compares its Ray task with this)
    # the record of identity i is the person the filter accepted
    maker = ImageMaker(face_model, cfg.gen, cfg.render, cfg.seed, variants=dict(enumerate(a.variants)))
    judge = FaceIdJudge()
    try:
        for i, t in enumerate(a.variants):
            crop, lm = candidate_probe(maker, i, int(t))
            ident = maker.identity(i)
            assert ident.index == i and ident.variant == t
            assert ident.attributes == __import__("gen.identity", fromlist=["x"]).make_identity(
                face_model, cfg.gen, cfg.seed, i, variant=int(t)).attributes
        e0 = judge.embed_crops([candidate_probe(maker, 0, 0)[0]], [candidate_probe(maker, 0, 0)[1]])[0]
        e1 = judge.embed_crops([candidate_probe(maker, 0, 1)[0]], [candidate_probe(maker, 0, 1)[1]])[0]
        assert np.linalg.norm(e0 - e1) > 0.1  # another candidate is another person
    finally:
        maker.close()


def test_an_accepted_candidate_shows_and_records_its_own_years(face_model):
    """Candidate t of index i is a person with its own draw of ages: each image keeps the stage of
    index i's run layout, and its face and its record's age are the candidate's years at that stage
    (records once took the years index i itself would have drawn)."""
    from gen.aging import identity_ages, image_age
    from gen.identity import make_identity, source_index
    from render.pipeline import ImageMaker
    cfg = parse_job_config({"seed": 2, "identities": 3, "images_per_identity": 4,
                            "gen": {"appearance": {"texture_size": 64}, "aging": {"span": 30, "stages": 2,
                                                                                "stage_run": 2}}})
    maker = ImageMaker(face_model, cfg.gen, cfg.render, cfg.seed, variants={0: 3, 1: 1})
    try:
        for i, t in ((0, 3), (1, 1), (2, 0)):
            ident = maker.identity(i)
            drawn = identity_ages(cfg.gen.aging, cfg.seed, source_index(i, t)).stages
            for image in range(4):  # runs of 2 images: both age stages
                stage, own_years = image_age(cfg.gen.aging, cfg.seed, i, image)
                aged, years = maker.at_age(ident, image)
                assert aged.stage == stage and aged.index == i and aged.variant == t
                assert years == aged.age == drawn[stage]
                assert (years == own_years) == (t == 0)  # a candidate's years are not index i's
                np.testing.assert_array_equal(aged.vertices, make_identity(face_model, cfg.gen, cfg.seed, i, stage,
                                                                           variant=t).vertices)
            assert maker.render(ident, 1).age == drawn[image_age(cfg.gen.aging, cfg.seed, i, 1)[0]]
    finally:
        maker.close()


def test_each_probe_shows_its_own_age_stage(face_model):
    """A candidate's youngest and oldest identities are built and dropped in turn; each render
    must show its own (a renderer keyed by id() once drew an oldest probe with the youngest face
    whenever the freed identity's address went to the next). The renderer keeps the bound
    identity itself, and each probe matches the same one drawn by a fresh maker."""
    from render.pipeline import ImageMaker
    cfg = parse_job_config({"seed": 6, "identities": 6, "images_per_identity": 1,
                            "gen": {"appearance": {"texture_size": 128}, "aging": {"span": 45, "stages": 4,
                                                                                 "graying": 2.0}}})
    maker = ImageMaker(face_model, cfg.gen, cfg.render, cfg.seed)
    try:
        pairs = [(i, s) for i in range(6) for s in (0, 3)]
        seq = [candidate_probe(maker, i, 0, s)[0] for i, s in pairs]
        assert maker.renderer.identity_key.index == 5 and maker.renderer.identity_key.stage == 3
        for k, (i, s) in enumerate(pairs):
            maker.fresh_renderer()
            alone = candidate_probe(maker, i, 0, s)[0]
            assert np.abs(alone.astype(int) - seq[k]).mean() < 0.5, (i, s)  # the same face (hair edges aside)
        young, old = seq[0], seq[1]
        assert np.abs(young.astype(int) - old).mean() > 2.0  # 45 years on: a different image
    finally:
        maker.close()
    # the filter's chunks: a chunk embeds the same whatever was embedded before it
    from render.identity_filter import CandidateEmbedder
    emb = CandidateEmbedder(face_model, cfg.gen, cfg.render, cfg.seed)
    try:
        a, c = [(i, 0) for i in range(6)], [(i, 1) for i in range(6)]
        first = emb.embed(a), emb.embed(c)
        emb.embed([(i, 2) for i in range(6)])
        np.testing.assert_array_equal(emb.embed(a), first[0])
        np.testing.assert_array_equal(emb.embed(c), first[1])
    finally:
        emb.close()


def test_a_candidate_is_judged_at_its_youngest_and_oldest_age(face_model):
    """ages: span embeds the candidate at its first and last age stage and lays the two end to end
    (over sqrt 2, so probe distances are the RMS of the distances age by age); youngest (or aging
    with one stage) embeds the first only."""
    from render.identity_filter import CandidateEmbedder, probe_stages
    body = {"seed": 6, "identities": 2, "images_per_identity": 1,
            "gen": {"appearance": {"texture_size": 128}, "aging": {"span": 40, "stages": 3}}}
    cfg = parse_job_config(body)
    assert probe_stages(cfg.gen, cfg.render.identity_filter) == (0, 2)
    assert probe_stages(cfg.gen, IdentityFilterConfig(ages="youngest")) == (0,)
    one = parse_job_config({**body, "gen": {"aging": {"stages": 1}}})
    assert probe_stages(one.gen, one.render.identity_filter) == (0,)
    emb = CandidateEmbedder(face_model, cfg.gen, cfg.render, cfg.seed)
    try:
        got = emb.embed([(1, 0), (0, 2)])
        for row, (i, t) in zip(got, [(1, 0), (0, 2)]):
            young, old = (candidate_probe(emb.maker, i, t, s) for s in (0, 2))
            e = emb.judge.embed_crops([young[0], old[0]], [young[1], old[1]])
            np.testing.assert_allclose(row, e.reshape(-1) / np.sqrt(2), atol=1e-6)
            assert np.linalg.norm(e[0] - e[1]) > 0.02  # 40 years apart: two different views
        a, b = got  # the probe distance is the RMS of the distances at each age
        ea, eb = (np.asarray(x).reshape(2, 128) * np.sqrt(2) for x in (a, b))
        np.testing.assert_allclose(np.linalg.norm(a - b), np.sqrt(np.mean(np.sum((ea - eb) ** 2, 1))), rtol=1e-5)
    finally:
        emb.close()


@pytest.mark.parametrize("patch,key", [
    ({"render": {"identity_filter": {"ages": "oldest"}}}, "render.identity_filter.ages"),
    ({"render": {"identity_filter": {"min_distance": 0}}}, "render.identity_filter.min_distance"),
    ({"render": {"identity_filter": {"max_tries": 0}}}, "render.identity_filter.max_tries"),
    ({"render": {"identity_filter": {"max_tries": 1001}}}, "render.identity_filter.max_tries"),
    ({"render": {"identity_filter": {"cohort": -1}}}, "render.identity_filter.cohort"),
    ({"render": {"identity_filter": {"cohort_weight": -0.5}}}, "render.identity_filter.cohort_weight"),
    ({"render": {"identity_filter": {"enabled": "yes please"}}}, "render.identity_filter.enabled"),
    ({"render": {"identity_filter": {"score": "nearest"}}}, "render.identity_filter.score"),
    ({"render": {"identity_filter": {"far_curve": [0.55, 0]}}}, "render.identity_filter.far_curve"),
    ({"render": {"identity_filter": {"far_curve": [3, 0.05]}}}, "render.identity_filter.far_curve"),
    ({"render": {"identity_filter": {"far_curve": [0.55]}}}, "render.identity_filter.far_curve"),
    ({"render": {"identity_filter": {"aging_weight": -1}}}, "render.identity_filter.aging_weight"),
    ({"render": {"identity_filter": {"aging_weight": 101}}}, "render.identity_filter.aging_weight"),
    ({"render": {"identity_filter": {"enabled": True, "aging_weight": 1, "ages": "youngest"}}},
     "render.identity_filter.aging_weight"),
    ({"render": {"identity_filter": {"enabled": True, "aging_weight": 1}}, "gen": {"aging": {"stages": 1}}},
     "render.identity_filter.aging_weight"),
    ({"render": {"identity_filter": {"enabled": True, "aging_weight": 1}}, "gen": {"aging": {"enabled": False}}},
     "render.identity_filter.aging_weight"),
    ({"render": {"identity_filter": {"enabled": True}}, "gen": {"identity": {"min_distance": 5}}},
     "render.identity_filter.enabled"),
    ({"render": {"identity_filter": {"enabled": True}}, "identity_start": 2 ** 41}, "render.identity_filter.enabled"),
])
def test_config_is_validated(patch, key):
    with pytest.raises(FacesynthError, match=key.replace(".", r"\.")):
        from core.config import parse_model
        from cluster.config import JobConfig
        parse_model(JobConfig, {"identities": 4, "images_per_identity": 2, **patch})


def test_job_stores_the_filter_in_the_manifest_and_resumes_with_it(tmp_path, face_model):
    from cluster.job import generate
    from cluster.dataset import open_dataset
    body = {"seed": 3, "identities": 4, "images_per_identity": 2, "gen": {"appearance": {"texture_size": 128}},
            "render": {"identity_filter": {"enabled": True, "min_distance": 0.45, "max_tries": 3, "cohort": 3}},
            "ray": {"unit_identities": 2}}
    cfg = parse_job_config(body)
    out = tmp_path / "ds"
    generate(cfg, str(out), workers=2, progress=False)  # two filter actors embed the waves
    m = json.loads((out / "_manifest.json").read_text())
    f = m["identity_filter"]
    assert len(f["variants"]) == 4 and f["tries"] >= 4 and m["complete"]
    direct = run_filter(face_model, cfg.gen, cfg.render, cfg.seed, 4)
    assert f["variants"] == direct.variants.tolist() and f["close"] == direct.close.tolist()
    # a manifest written before the per-identity counts still loads; a count list of the wrong length does not
    from cluster.manifest import validate
    validate({**m, "identity_filter": {k: v for k, v in f.items() if k != "close"}}, "old")
    with pytest.raises(FacesynthError, match="identity_filter"):
        validate({**m, "identity_filter": {**f, "close": [0]}}, "bad")
    rows = open_dataset(str(out)).read(columns=["identity", "image_index"]).to_pylist()
    assert sorted((r["identity"], r["image_index"]) for r in rows) == [(i, j) for i in range(4) for j in range(2)]
    # inspect tells what the filter did
    from cluster.report import format_stats, inspect
    s = inspect(str(out))
    assert s["identity_filter"]["candidates"] == f["tries"] and s["identity_filter"]["cohort"] == 3
    assert s["identity_filter"]["unmet"] == f["unmet"] and s["identity_filter"]["identities"] == 4
    assert f"identity filter: {f['tries']} candidates for 4 identities" in format_stats(s)


def test_far_curve_counts_in_the_config_hash_only_when_it_ranks():
    from cluster.config import config_hash

    def h(**f):
        return config_hash(parse_job_config({"identities": 4, "images_per_identity": 2,
                                             "render": {"identity_filter": {"enabled": True, **f}}}))
    assert h() == h(far_curve=[0.6, 0.04])  # counting never reads the curve: same data, same hash
    assert h() != h(score="expected")
    assert h(score="expected") != h(score="expected", far_curve=[0.6, 0.04])
    assert h() == h(aging_weight=0) != h(aging_weight=2)  # off: the hash of datasets made before the key
