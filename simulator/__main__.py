"""`python -m simulator [--host H] [--port P] [--seed S]`: the simulator alone."""

from simulator.cli import main

main()
