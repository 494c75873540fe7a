"""``python -m paft_ext.cli``."""

from paft_ext.cli import main

main()
