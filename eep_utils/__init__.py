"""Embodied Emulated Personas: the library behind the book's chapters.

embodiments   what a body senses, as text, and how text acts on it (CartPole projections)
policies      hand-made and searched CartPole policies (lookup tables, the prompt's rule, LQR)
evaluation    vectorised closed-loop evaluation of any policy
stats         confidence intervals and significance tests
captions      ELLM's transition captions on CartPole (what a push did to the pole and the cart)
ellm          ELLM: goals from a teacher, the intrinsic reward, an agent trained on it alone
config        the book's parameter file
build         text notebooks → papermill → Jupyter Book
"""
