"""`python -m rnnlm` runs the CLI."""

import sys

from rnnlm.cli import main

if __name__ == "__main__":
    sys.exit(main())
