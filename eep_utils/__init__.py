"""Embodied Emulated Personas: the library behind the book's chapters.

embodiments   what a body senses, as text, and how text acts on it (CartPole projections)
policies      hand-made and searched CartPole policies (lookup tables, the prompt's rule, LQR)
evaluation    vectorised closed-loop evaluation of any policy
stats         confidence intervals and significance tests
episodes      the one episode format (EpisodeSet), the dynamics check, Minari export
original_study  the 2023 recordings: pinned fetch, replay-checked loading, the published table
students      embodied students (sklearn conventions), their metrics, DAgger
config        the book's parameter file
build         text notebooks → papermill → Jupyter Book
"""
