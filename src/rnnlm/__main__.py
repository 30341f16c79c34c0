"""`python -m rnnlm` runs the CLI."""

import sys

from rnnlm.cli import main

sys.exit(main())
