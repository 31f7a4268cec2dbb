"""``o2c-sim export``: simulate -> XES or OCEL 2.0 -> import gives back the same events and amounts to
the cent; the OCEL JSON is well-formed; nothing is ever overwritten."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from o2c_sim.data.activities import load_activities
from o2c_sim.cli import main

SIZE = ["--set", "portfolio.accounts=120", "--set", "horizon_days=90", "--set", "warmup_days=30",
        "--replications", "2", "--quiet"]
OCEL_TYPES = {"string", "time", "integer", "float", "boolean"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    assert main(["run", "baseline", *SIZE, "--out", str(out)]) == 0
    return out


def _replication(run_dir, r: int) -> pd.DataFrame:
    acts = pd.read_parquet(run_dir / "activities.parquet")
    return acts[acts["replication"] == r].drop(columns="replication").reset_index(drop=True)


def _cents_per_kind(acts: pd.DataFrame) -> pd.Series:
    return (acts["amount"].fillna(0) * 100).round().astype("int64").groupby(acts["kind"].astype(str)).sum()


def test_xes_round_trip_keeps_counts_and_amounts(run_dir, tmp_path, capsys):
    xes = tmp_path / "run.xes"
    assert main(["export", str(run_dir), "--xes", str(xes), "--replication", "1"]) == 0
    original = _replication(run_dir, 1)
    back = load_activities(xes, "xes_activities")
    assert back["kind"].value_counts().sort_index().equals(original["kind"].value_counts().sort_index())
    assert _cents_per_kind(back).equals(_cents_per_kind(original))
    key = ["item_id", "customer_id", "date", "kind", "amount", "level", "outcome", "promised_date"]
    order = lambda df: df.sort_values(key, kind="stable").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(order(back), order(original), check_categorical=False)


def test_ocel_is_well_formed_with_the_same_counts_and_amounts(run_dir, tmp_path):
    path = tmp_path / "run.jsonocel"
    assert main(["export", str(run_dir), "--ocel", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert set(doc) == {"objectTypes", "eventTypes", "objects", "events"}
    object_types = {t["name"] for t in doc["objectTypes"]}
    event_types = {t["name"]: {a["name"]: a["type"] for a in t["attributes"]} for t in doc["eventTypes"]}
    assert all(a["type"] in OCEL_TYPES for t in doc["objectTypes"] + doc["eventTypes"] for a in t["attributes"])
    objects = {o["id"]: o for o in doc["objects"]}
    assert len(objects) == len(doc["objects"]) and {o["type"] for o in objects.values()} <= object_types
    ids = [e["id"] for e in doc["events"]]
    assert len(set(ids)) == len(ids)
    for event in doc["events"]:
        assert event["type"] in event_types
        pd.Timestamp(event["time"])  # ISO 8601
        assert all(r["objectId"] in objects and r["qualifier"] for r in event["relationships"])
        assert all(a["name"] in event_types[event["type"]] for a in event["attributes"])
    for o in objects.values():
        assert all(r["objectId"] in objects for r in o["relationships"])
    original = _replication(run_dir, 0)
    counts = pd.Series([e["type"] for e in doc["events"]]).value_counts().sort_index()
    assert counts.equals(original["kind"].astype(str).value_counts().sort_index().rename(None)[lambda s: s > 0])
    cents = pd.Series({k: 0 for k in counts.index})
    for e in doc["events"]:
        for a in e["attributes"]:
            if a["name"] == "amount":
                cents[e["type"]] += round(a["value"] * 100)
    assert cents.sort_index().equals(_cents_per_kind(original).sort_index()[counts.index])
    invoices = [o for o in objects.values() if o["type"] == "invoice"]
    assert len(invoices) == original.loc[original["item_id"].ne(""), "item_id"].nunique()
    back = load_activities(path)  # the shipped OCEL mapping: a full round trip
    key = ["item_id", "customer_id", "date", "kind", "amount", "level", "outcome", "promised_date"]
    order = lambda df: df.sort_values(key, kind="stable").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(order(back), order(original), check_categorical=False)


def test_export_never_overwrites_and_checks_its_arguments(run_dir, tmp_path, capsys):
    target = tmp_path / "keep.xes"
    target.write_text("precious")
    assert main(["export", str(run_dir), "--xes", str(target)]) == 2
    assert target.read_text() == "precious"
    assert "never overwrites" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--xes", str(tmp_path / "x.xes"), "--replication", "7"]) == 2
    assert "--replication 7 is not in this run; it has [0, 1]" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "--ocel", str(tmp_path / "x.json")]) == 2
    assert main(["export", str(run_dir)]) == 2
    assert not (tmp_path / "x.xes").exists() and not (tmp_path / "x.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.xes"]  # no temporary files left behind
