"""Text in: corpora (registry, mirrors, download cache), strict reading, splitting, batching."""
