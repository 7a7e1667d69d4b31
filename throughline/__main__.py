"""`python -m throughline` runs the command line."""

from throughline.cli import main

raise SystemExit(main())
