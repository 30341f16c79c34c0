"""`rnnlm bench`: speed against the machine's limit, and quality against wall-clock budgets."""
