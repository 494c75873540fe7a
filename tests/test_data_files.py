"""The shared file writers: CSV rows come back as written (quoted cells included), and a write is atomic."""

from __future__ import annotations

import csv

from paft_ext.data_files import read_csv, write_csv


def test_write_csv_round_trips_quoted_cells_and_leaves_out_extra_keys(tmp_path):
    rows = [{"run": "a, b", "note": 'say "hi"\nnext line', "extra": 1}, {"run": "c", "note": "", "extra": 2}]
    path = tmp_path / "sub" / "out.csv"
    write_csv(path, rows, ["run", "note"])
    with path.open(newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [{"run": "a, b", "note": 'say "hi"\nnext line'},
                                                {"run": "c", "note": ""}]
    assert [where for where, _ in read_csv(path)] == [f"{path}:3", f"{path}:4"]  # the quoted break spans a line
    write_csv(path, [{"x": 1}])  # default header: the first row's keys; the old file replaced whole
    assert path.read_text() == "x\n1\n" and not list(tmp_path.glob("sub/*.tmp"))


def test_typed_cell_gives_back_what_write_csv_wrote(tmp_path):
    from paft_ext.data_files import read_csv, typed_cell, write_csv

    row = {"name": "K1_T3_Nall", "seed": 2, "mean": 80.25, "std": 7.967904366895978, "zero": 0.0, "none": None,
           "flag": False, "nan": float("nan"), "shares": "A:46.4 B:53.6"}
    write_csv(tmp_path / "r.csv", [row])
    ((_, raw),) = read_csv(tmp_path / "r.csv")
    back = {k: typed_cell(v) for k, v in raw.items()}
    assert back.pop("nan") != back.get("nan")  # nan comes back as nan (a float unequal to itself)
    assert back == {k: v for k, v in row.items() if k != "nan"}
    assert [type(back[k]) for k in ("seed", "mean", "zero", "flag")] == [int, float, float, bool]
