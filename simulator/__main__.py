"""`python -m simulator [--host H] [--port P] [--seed S]`: the simulator alone."""

from simulator.app import main

main()
