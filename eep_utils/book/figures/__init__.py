"""The chapters' figures: each function takes a chapter's result and returns its matplotlib Figure."""
