"""python -m heaplens: the command line (see heaplens._cli)."""

import sys

from heaplens._cli import main

if __name__ == "__main__":
    sys.exit(main())
