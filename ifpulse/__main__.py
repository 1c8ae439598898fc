"""`python -m ifpulse`."""

from ifpulse.cli import main

raise SystemExit(main())
