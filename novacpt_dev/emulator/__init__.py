"""Run the synthesised pipeline on this machine: moto for AWS, the real handlers in process.

Used by the executed state-machine tests and by `cpt demo`. Needs the dev dependencies (moto).
"""
