"""The book's figures, one module per chapter: each function takes a chapter's result and returns a Figure."""
