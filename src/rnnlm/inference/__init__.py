"""Using a trained model: next-token sampling, the generation stepper, full-pass scoring and
the one selector of held-out text."""
