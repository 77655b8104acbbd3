"""``python -m mosaico``: the same command line as ``mosaico``."""

from mosaico.cli import main

main()
