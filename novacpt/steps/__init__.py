"""Application steps of the run: one module a state-machine step; lambdas/ only adapts events to them."""
