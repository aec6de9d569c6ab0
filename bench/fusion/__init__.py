"""Cross-source fusion benchmark data: the labelled report pairs (see pairset)."""
