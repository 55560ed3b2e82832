"""The pipeline's logic, one module a concern; the Lambda handlers in lambdas/ only adapt events to it."""
