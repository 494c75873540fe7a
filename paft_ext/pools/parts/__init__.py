"""Hand-written prompt parts per pool (written for paft_ext, not copied from the paper's spreadsheets)."""
