"""The book's experiments, one per chapter: typed parameters in (`params`), one `ChapterResult` out (`base`).

embodiment   01: what the text channel allows on CartPole (lookup tables, the random walk)
teachers     02: the chatbot's personas drive CartPole through text; persona against wording
baselines    03: policies without a chatbot, on the random walk's starting states
students     04: students that imitate the teachers (and the 2023 student, re-examined)
ellm         05: ELLM-style rewards from the chatbot's goals
personality  06: the game of personality: judges, pixel students, the persona × persona matrix
rerun        07: what re-running the book with another chatbot asks, counted by running it
"""
