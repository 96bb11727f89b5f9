"""`python -m controller` is the same as the `controller` command."""

from controller.cli import main

raise SystemExit(main())
