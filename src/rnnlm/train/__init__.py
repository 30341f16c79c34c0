"""Training: the loop, optimizers, schedules, progress display and run logs."""
