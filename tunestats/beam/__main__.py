"""``python -m tunestats.beam``: the batch on a Beam runner (:mod:`tunestats.beam.command`)."""

import sys

# Run the package's module, not this file's names: the steps must pickle as
# tunestats.beam.transforms' own classes, which the workers import from the installed package.
from tunestats.beam.command import main

sys.exit(main())
