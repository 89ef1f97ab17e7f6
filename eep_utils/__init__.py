"""Embodied Emulated Personas: the library behind the book's chapters.

embodiments   what a body senses, as text, and how text acts on it (CartPole projections)
policies      hand-made and searched CartPole policies (lookup tables, the prompt's rule, LQR)
evaluation    vectorised closed-loop evaluation of any policy
stats         confidence intervals and significance tests
teachers      who answers text prompts (live chatbot, replay, stand-in), answer parsers, run reports
chatbots      the live OpenAI-compatible client (retries, concurrency bound, pace, budget)
transcripts   recorded exchanges: record, replay, resume, Batch API export/import
cartpole_teaching  CartPole personas, conversation protocols, rule stand-in, teacher rollouts
config        the book's parameter file
build         text notebooks → papermill → Jupyter Book
"""
