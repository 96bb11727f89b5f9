"""CPU-heavy API work off the loop that answers requests: template renders and checks, callflow
validation. `pool.py` keeps the worker processes and talks to them; `child.py` is a worker's own
loop (`python -m controller.workers`); `jobs.py` is what a worker can be asked to do."""
