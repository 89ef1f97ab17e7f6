"""Embodied Emulated Personas: the library behind the book's chapters, by the research's parts.

chat/         who answers text prompts, in one direction: types (requests, answers, every error) →
              parsing → usage (tokens, prices, budget) → running → client (the OpenAI SDK) → local
              (SmolLM2 on llama.cpp's server) → transcripts → recording (record/replay) → batch →
              teachers (the factory: auto, local, live, replay, stand-in); costs, embeddings
personas.py   the CartPole and ELLM personas, one text each (and second wordings of the same persona)
cartpole/     the body: the text projection (embodiment), evaluation, policies, episodes, behaviour,
              teaching (a chatbot drives CartPole through text), students (imitation, DAgger)
study2023/    the 2023 study: pinned fetch, replay and alignment of its recordings, its reproduction
ellm/         ELLM: transition captions, chatbot-suggested goals, caption-goal similarity as reward
personality/  the game of personality: creatures, photos, cuteness personas, the stand-in judge,
              pixel students, the persona × persona agreement matrix
stats.py      confidence intervals and tests (scipy.stats)
book/         the parameter file, the build (papermill → Jupyter Book), glued numbers and claims,
              the book's address (site)
record.py     `python -m eep_utils.record`: ask the local chatbot everything the book needs, seal it
build.py      `python -m eep_utils.build`: the book's build command
"""
