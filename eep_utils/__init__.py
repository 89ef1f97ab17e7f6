"""Embodied Emulated Personas: the library behind the book's chapters.

embodiments        what a body senses, as text, and how text acts on it (CartPole projections)
policies           hand-made and searched CartPole policies (lookup tables, the prompt's rule, LQR)
evaluation         vectorised closed-loop evaluation of any policy
stats              confidence intervals and significance tests
teachers           who answers text prompts (live chatbot, replay, stand-in), answer parsers, run reports
chatbots           the live OpenAI-compatible client (retries, concurrency bound, pace, budget)
transcripts        recorded exchanges: record, replay, resume, Batch API export/import
cartpole_teaching  CartPole personas, conversation protocols, rule stand-in, teacher rollouts
episodes           the one episode format (EpisodeSet), the dynamics check, Minari export
original_study     the 2023 recordings: pinned fetch, replay-checked loading, the published table
students           embodied students (sklearn conventions), their metrics, DAgger
behaviour          what a teacher did: returns, action balance, action tables, animations
embeddings         sentence embeddings: offline all-MiniLM-L6-v2 (checked, cached) or the endpoint's API
captions           ELLM's transition captions on CartPole (what a push did to the pole and the cart)
ellm               ELLM: chatbot-suggested goals, caption-goal similarity as intrinsic reward, its learner
creatures          procedurally generated animal-like creatures, their pictures and captions; image folders
personas           cute-judging personas, their prompts, judgments read into verdicts
vision_students    pixel-only students: generic image features, XGBoost and logistic regression
agreement          the persona × persona matrix: ROC-AUC / Spearman, joint bootstrap, extraction test
report             glued numbers, CI tables, headline results and claims for the introduction
config             the book's parameter file
build              text notebooks → papermill → Jupyter Book
"""
