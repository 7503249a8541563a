"""The benchmark split is honest: disjoint, every category on both sides, reproducible by its rule."""

import json
from pathlib import Path

from bench import splits

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"


def test_no_file_is_in_both_splits_and_every_category_is_in_both():
    tuning, reporting = set(splits.NAB_TUNING), set(splits.NAB_REPORTING)
    assert not tuning & reporting
    assert not set(splits.DAILY_TUNING) & set(splits.DAILY_REPORTING)
    cats = {k.split("/")[0] for k in tuning | reporting}
    for cat in cats:
        assert any(k.startswith(cat + "/") for k in tuning), cat
        assert any(k.startswith(cat + "/") for k in reporting), cat


def test_the_split_follows_its_documented_rule_over_all_34_files():
    keys = sorted(json.loads((NAB / "labels" / "combined_windows.json").read_text()))
    assert len(keys) == 34
    by_cat: dict[str, list[str]] = {}
    for k in keys:
        by_cat.setdefault(k.split("/")[0], []).append(k)
    expected_tuning = {k for ks in by_cat.values() for i, k in enumerate(sorted(ks)) if i % 2 == 0}
    assert expected_tuning == set(splits.NAB_TUNING)
    assert set(keys) - expected_tuning == set(splits.NAB_REPORTING)


def test_tuning_and_reporting_seeds_never_meet():
    assert max(splits.seeds("tuning", 1000)) < min(splits.seeds("reporting", 1000))
