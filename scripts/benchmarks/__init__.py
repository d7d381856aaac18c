"""One module per benchmark subcommand of scripts/bench.py."""
