"""python -m heaplens: the command line (see heaplens._cli.main)."""

import sys

from heaplens._cli.main import main

if __name__ == "__main__":
    sys.exit(main())
