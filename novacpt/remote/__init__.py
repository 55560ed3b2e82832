"""Working with a deployed pipeline from the terminal: find it, upload a run, follow it."""
