"""The command-line verbs as library functions: each prints what its command prints."""
