"""Lambda handlers of the pipeline: each adapts one event to a function of novacpt.steps."""
