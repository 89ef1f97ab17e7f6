"""The book's figures, one module per chapter: functions of a chapter's result that return a Figure."""
