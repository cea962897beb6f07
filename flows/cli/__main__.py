"""`python -m flows.cli`: the `newsflow` command."""

from flows.cli import main

main()
