"""The pipeline stack: the Lambda functions, the run state machine, trigger, clean-up, notifications, alarms."""
