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
