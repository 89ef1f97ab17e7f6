"""CartPole taught through text: the 2023 prompt, conversation protocols, the offline rule stand-in, and teacher rollouts.

Every conversation starts with the 2023 system prompt, opened by who the chatbot is asked to be, and
the 2023 study's seven example turns. Who it is asked to be is a voice (`eep_utils.personas.Voice`:
a persona in a template and wording, whose introduction opens the prompt, "You are Sir Isaac Newton."
for Newton in the template "you-are" and wording 1, the 2023 sentence). A protocol decides what is sent
at each decision:

- `Study2023Protocol` reproduces the 2023 chat run: the whole conversation re-sent at every
  decision, "You failed, the pole fell too far. Try again:" between episodes, and, once more than
  30 episodes have been played, every episode starting again from the initial prompt; temperature
  0, at most 2 answer tokens. Episodes share one conversation, so they run one after another.
- `BoundedHistoryProtocol(turns=k)` sends the system prompt, the examples and only the last k
  exchanges of the current episode, so the prompt does not grow and episodes run concurrently.

Answers are read with `parse_choice`, and the model is read the way it answers: the grammar
(`ANY_CASE_CHOICE_GRAMMAR`, where the teacher honours one) admits every casing of left and right, with
or without a leading space, and P(right) is pooled over every spelling at the choice position among
`ALL_TOP_LOGPROBS` alternatives, with the *answer mass*, the probability those spellings hold there.
An answer that names no single direction is counted, asked
again once with a short reminder ("retried"), and if still unreadable resolved by the 2023 study's
own default, "right" (written " right" into the conversation, as the study did), flagged
"fallback" so that students do not learn it as the teacher's decision.

Differences from the 2023 scripts, on purpose: episode e starts from `reset(seed=seed + e)` (the
study seeded only the first reset), so personas and protocols are compared on the same starting
states; decisions fall on every `steps_per_decision`-th frame of each episode (the study counted
frames across episodes, so an episode could start by holding the last episode's action); and a
conversation that outgrows the model's context is restarted from the initial prompt at the
current state (the 2023 recordings show such restarts at episodes 6, 12, 21 and 28, where the
study wrote its fallback " right").
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eep_utils.chat.types import ContextLengthExceeded
from eep_utils.cartpole.body import held_cartpole, play_episode
from eep_utils.cartpole.embodiment import ACTIONS, STUDY_2023, Projection
from eep_utils.cartpole.episodes import DECISION_COLUMNS, FRAME_COLUMNS, EpisodeSet, frame_rows
from eep_utils.chat.parsing import MAX_CHARACTERS_PER_TOKEN, agrees_with, choice_reading, parse_choice, within_length
from eep_utils.chat.running import aclose, run_sync
from eep_utils.chat.types import BudgetExhausted, ChatAnswer, ChatRequest, Teacher
from eep_utils.personas import Voice, template_named

# The 2023 study's system prompt, word for word; only the persona sentence and the state schema vary.
TASK_PROMPT_2023 = """Your task is to balance a cartpole.
You are effecting forces on the cart to make it accelerate either left or right.
There is a pole set up on top of the cart so that it can fall freely either left or right.
If the pole is falling right, you need to push the cart right to let the pole rise to an upright position again, and vice versa.
Your task is to make the pole stay upright by pushing the cart left and right.
You must always push the cart left or right, those are your only options.
The cart is controlled by commands "left" and "right". Answer only left or right. Before giving a command, the description of the state
of the cart is given as follows:
{schema}
Here is the first state of the cart, answer only left or right:
"""

# The seven example turns that followed the system prompt in 2023 (state lines in the prompt's order).
FEW_SHOT_2023 = tuple(
    (f"cart-position: center\ncart-velocity: {velocity}\npole-angular-velocity: {spin}\npole-angle: {angle}", answer)
    for velocity, spin, angle, answer in (
        ("stopped", "zero", "right", "right"),
        ("stopped", "leftwards", "right", "right"),
        ("rightwards", "leftwards", "right", "right"),
        ("rightwards", "leftwards", "right", "left"),
        ("rightwards", "leftwards", "upright", "left"),
        ("stopped", "leftwards", "upright", "right"),
        ("rightwards", "leftwards", "upright", "right"),
    )
)
FAILED_MESSAGE_2023 = "You failed, the pole fell too far. Try again:"
HISTORY_EPISODES_2023 = 30
REMINDER = "Answer only left or right."
FALLBACK_CHOICE = "right"  # the 2023 scripts' default after unreadable answers
FALLBACK_HISTORY_TEXT = " right"  # what they wrote into the conversation in its place
CHOICES = ACTIONS
# The way a small model answers: "Left" or " right" as readily as "left"; a choice read in one casing
# measures casing. Every spelling is admitted (GBNF), and all of them are read.
ANY_CASE_CHOICE_GRAMMAR = 'root ::= " "? ("left" | "Left" | "LEFT" | "right" | "Right" | "RIGHT")'
ALL_TOP_LOGPROBS = 20  # alternatives per answer token: the most the chat completions API gives


def persona_sentence(voice: Voice) -> str:
    """What opens the system prompt before the task text: the voice's introduction and a space."""
    return template_named(voice.template).introduce(voice.of(), voice.wording) + " "


def system_prompt(voice: Voice, projection: Projection = STUDY_2023) -> str:
    """The 2023 system prompt as `voice`, with the projection's state schema."""
    return persona_sentence(voice) + TASK_PROMPT_2023.format(schema=projection.schema())


def initial_messages(voice: Voice, projection: Projection = STUDY_2023) -> list[dict]:
    """The system prompt and the 2023 study's example turns: where every conversation starts."""
    messages = [{"role": "system", "content": system_prompt(voice, projection)}]
    for state_text, answer in FEW_SHOT_2023:
        messages += [{"role": "user", "content": state_text}, {"role": "assistant", "content": answer}]
    return messages


# --- Conversation protocols ----------------------------------------------------------------------


class Study2023Conversation:
    def __init__(self, initial: list[dict], history_episodes: int):
        self.initial = initial
        self.history_episodes = history_episodes
        self.history = list(initial)
        self.episodes_played = 0

    def messages_for(self, state_text: str) -> list[dict]:
        return self.history + [{"role": "user", "content": state_text}]

    def add_exchange(self, state_text: str, answer_text: str) -> None:
        self.history += [{"role": "user", "content": state_text}, {"role": "assistant", "content": answer_text}]

    def end_episode(self) -> None:
        self.episodes_played += 1
        if self.episodes_played > self.history_episodes:
            self.history = list(self.initial)
        else:
            self.history.append({"role": "user", "content": FAILED_MESSAGE_2023})

    def restart(self) -> None:
        self.history = list(self.initial)


@dataclass(frozen=True)
class Study2023Protocol:
    """The 2023 chat run's conversation, exactly (see the module docstring)."""

    history_episodes: int = HISTORY_EPISODES_2023
    logprobs: bool = False  # the study did not ask for them; asking does not change a temperature-0 answer
    shares_history = True

    @property
    def name(self) -> str:
        return (f"2023 study: whole conversation re-sent, reset after {self.history_episodes} episodes, "
                "temperature 0, max 2 tokens")

    def request_settings(self) -> dict:
        return {"temperature": 0.0, "max_tokens": 2, "logprobs": self.logprobs,
                "top_logprobs": ALL_TOP_LOGPROBS if self.logprobs else None}

    def conversation(self, voice: Voice, projection: Projection = STUDY_2023) -> Study2023Conversation:
        return Study2023Conversation(initial_messages(voice, projection), self.history_episodes)


class BoundedConversation:
    def __init__(self, initial: list[dict], turns: int):
        self.initial = initial
        self.turns = turns
        self.exchanges: list[tuple[str, str]] = []

    def messages_for(self, state_text: str) -> list[dict]:
        recent = self.exchanges[-self.turns:] if self.turns else []
        messages = list(self.initial)
        for state, answer in recent:
            messages += [{"role": "user", "content": state}, {"role": "assistant", "content": answer}]
        return messages + [{"role": "user", "content": state_text}]

    def add_exchange(self, state_text: str, answer_text: str) -> None:
        self.exchanges.append((state_text, answer_text))

    def end_episode(self) -> None:
        self.exchanges = []

    def restart(self) -> None:
        self.exchanges = []


@dataclass(frozen=True)
class BoundedHistoryProtocol:
    """System prompt, examples and the last `turns` exchanges of the current episode; episodes independent.

    `constrained` adds `grammar`, which lets the answer be only a spelling of "left" or "right" (llama.cpp's
    server reads it; an endpoint that does not, such as OpenAI's, must be asked with constrained=False).
    `top_logprobs` alternatives are asked for each answer token."""

    turns: int = 4
    logprobs: bool = True
    constrained: bool = False
    grammar: str = ANY_CASE_CHOICE_GRAMMAR
    top_logprobs: int = ALL_TOP_LOGPROBS
    shares_history = False

    def __post_init__(self):
        if self.turns < 0:
            raise ValueError(f"turns must be 0 or more, not {self.turns}")

    @property
    def name(self) -> str:
        constraint = ""
        if self.constrained:
            constraint = (", answers constrained to left/right in any casing" if self.grammar == ANY_CASE_CHOICE_GRAMMAR
                          else ", answers constrained to left/right")
        return f"bounded history: last {self.turns} exchanges of the episode, temperature 0, max 2 tokens{constraint}"

    def request_settings(self) -> dict:
        return {"temperature": 0.0, "max_tokens": 2, "logprobs": self.logprobs,
                "top_logprobs": self.top_logprobs if self.logprobs else None,
                "grammar": self.grammar if self.constrained else None}

    def conversation(self, voice: Voice, projection: Projection = STUDY_2023) -> BoundedConversation:
        return BoundedConversation(initial_messages(voice, projection), self.turns)


# --- Asking for one decision -----------------------------------------------------------------------


@dataclass
class Decision:
    answer: str
    status: str
    action: int
    p_right: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    context_restarts: int = 0
    mass: float = math.nan  # the probability every spelling of left and right holds where the choice was made


async def decide(teacher: Teacher, conversation, state_text: str, settings: dict) -> Decision:
    """One decision: ask; if the answer is not a decision, remind once; else fall back (flagged).

    An answer is a decision when it names exactly one direction and is no longer than the request
    allowed (a server that ignored max_tokens may ramble for kilobytes and end on a direction word).
    P(right) is read where the teacher made its choice (`choice_reading`) and kept only if it favours the
    choice made; otherwise it is NaN, so a soft label never contradicts the action. Every spelling of left
    and right at that position counts."""
    restarts = 0

    async def ask(messages: list[dict]) -> tuple[ChatRequest, ChatAnswer]:
        request = ChatRequest.from_messages(messages, **settings)
        return request, await teacher.acomplete(request)

    def choice_in(request: ChatRequest, answer: ChatAnswer) -> str | None:
        return parse_choice(answer.text, CHOICES) if within_length(answer, request) else None

    messages = conversation.messages_for(state_text)
    try:
        request, answer = await ask(messages)
    except ContextLengthExceeded:
        conversation.restart()
        restarts += 1
        messages = conversation.messages_for(state_text)
        request, answer = await ask(messages)
    answers = [answer]
    choice, status = choice_in(request, answer), "ok"
    if choice is None:
        # What it said goes back into the reminder only as far as a decision could have reached.
        said = (answer.text or answer.refusal or "")[:MAX_CHARACTERS_PER_TOKEN * (request.max_tokens or 1)]
        request, answer = await ask(messages + [{"role": "assistant", "content": said},
                                                {"role": "user", "content": REMINDER}])
        answers.append(answer)
        choice = choice_in(request, answer)
        status = "retried" if choice is not None else "fallback"
    p_right = mass = math.nan
    if choice is None:
        choice, history_text = FALLBACK_CHOICE, FALLBACK_HISTORY_TEXT
    else:
        history_text = answer.text
        reading = choice_reading(answer, choice, CHOICES)
        if reading is not None:
            probabilities, mass = reading
            p_right = probabilities["right"] if agrees_with(probabilities, choice) else math.nan
    conversation.add_exchange(state_text, history_text)
    teacher.usage.add_decision(status, failed_parses=len(answers) - (status != "fallback"))
    return Decision(answer.text, status, CHOICES.index(choice), p_right,
                    sum(a.prompt_tokens for a in answers), sum(a.completion_tokens for a in answers),
                    sum(a.latency_s for a in answers), restarts, mass)


# --- Rollouts -----------------------------------------------------------------------------------------


async def _play_episode(teacher, conversation, episode: int, seed: int, settings: dict, steps_per_decision: int,
                        projection: Projection):
    asked: list[tuple[str, Decision]] = []

    async def choose(state_text: str) -> int:
        decision = await decide(teacher, conversation, state_text, settings)
        asked.append((state_text, decision))
        return decision.action

    env = held_cartpole(steps_per_decision, projection)
    try:
        played = await play_episode(env, choose, seed=seed + episode)
    finally:
        env.close()
    conversation.end_episode()
    frames = frame_rows(episode, played)
    decided = [f for f in played if f.decided]
    decisions = [(episode, f.t, int(projection.state_index(f.observation)), text, d.answer, d.status, d.action,
                  d.p_right, d.prompt_tokens, d.completion_tokens, d.latency_s)
                 for f, (text, d) in zip(decided, asked, strict=True)]
    return frames, decisions, sum(d.context_restarts for _, d in asked)


def run_cartpole_teacher(teacher: Teacher, voice: Voice, protocol, n_episodes: int, seed: int,
                         steps_per_decision: int = 2, max_in_flight: int = 8,
                         projection: Projection = STUDY_2023) -> EpisodeSet:
    """Let the teacher play `n_episodes` of CartPole-v1 through text, and record every frame and decision.

    With a shared-history protocol episodes run in order; otherwise up to `max_in_flight` at once.
    If the teacher's budget runs out, the run stops cleanly: the finished episodes are returned
    (metadata `stopped_early` says why), the unfinished one is dropped, and its exchanges stay in
    the transcript so the next run resumes without asking them again."""
    settings = protocol.request_settings()
    finished: dict[int, tuple] = {}

    async def play(episode: int, conversation) -> None:
        finished[episode] = await _play_episode(teacher, conversation, episode, seed, settings, steps_per_decision,
                                                projection)

    async def main() -> str | None:
        try:
            if protocol.shares_history:
                conversation = protocol.conversation(voice, projection)
                for episode in range(n_episodes):
                    await play(episode, conversation)
            else:
                gate, budget_stops = asyncio.Semaphore(max_in_flight), []

                async def gated(episode: int) -> None:
                    # A budget stop ends this episode only: the others' requests already sent are
                    # answered and recorded, and each stops at its own next request.
                    try:
                        async with gate:
                            await play(episode, protocol.conversation(voice, projection))
                    except BudgetExhausted as error:
                        budget_stops.append(str(error))

                async with asyncio.TaskGroup() as group:
                    for episode in range(n_episodes):
                        group.create_task(gated(episode))
                if budget_stops:
                    return budget_stops[0]
        except BudgetExhausted as error:
            return str(error)
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None  # the first failure, as it was raised
        finally:
            await aclose(teacher)
        return None

    stopped = run_sync(main())
    episodes = sorted(finished)
    frames = pd.DataFrame([row for e in episodes for row in finished[e][0]], columns=FRAME_COLUMNS)
    decisions = pd.DataFrame([row for e in episodes for row in finished[e][1]], columns=DECISION_COLUMNS)
    metadata = {
        **speaker_metadata(voice), "system_prompt": system_prompt(voice, projection),
        "protocol": protocol.name, "seed": seed, "n_episodes_requested": n_episodes,
        "steps_per_decision": steps_per_decision,
        "projection": projection.name, "model": teacher.model,
        "context_restarts": int(sum(finished[e][2] for e in episodes)), "stopped_early": stopped,
        "usage": teacher.usage.report(teacher.model),
    }
    return EpisodeSet(teacher.label, teacher.is_chatbot, frames, decisions, metadata)


def speaker_metadata(voice: Voice) -> dict:
    """Who played, for an episode set's metadata: the persona, its wording, its template and the voice."""
    return {"persona": voice.persona, "persona_wording": voice.wording, "template": voice.template,
            "voice": voice.label}


def ask_once(teacher: Teacher, voice: Voice, state_texts: list[str], protocol: BoundedHistoryProtocol,
             max_in_flight: int = 8, projection: Projection = STUDY_2023) -> list[Decision]:
    """The teacher's decision on each state text, each asked as an independent single question (no
    history: the protocol's turns are not used), up to `max_in_flight` at once."""
    settings = protocol.request_settings()

    async def main() -> list[Decision]:
        gate = asyncio.Semaphore(max_in_flight)

        async def one(text: str) -> Decision:
            async with gate:
                return await decide(teacher, BoundedConversation(initial_messages(voice, projection), 0), text,
                                    settings)

        try:
            return await asyncio.gather(*(one(text) for text in state_texts))
        finally:
            await aclose(teacher)

    return run_sync(main())


def state_labeller(teacher: Teacher, voice: Voice, protocol: BoundedHistoryProtocol, max_in_flight: int = 8,
                   projection: Projection = STUDY_2023):
    """A labeller for DAgger and fidelity: the teacher is asked once about every text state of `projection`,
    each as an independent single question (`ask_once`), as a probe of that state is asked; the labeller then
    reads those answers. Asked up front, what a chapter asks does not depend on where its students go.

    The labeller maps observations to (actions, p_right, statuses): int64 actions (0 left, 1 right), the
    teacher's probability of "right" where log-probabilities were given (else NaN), and "ok"/"retried"/
    "fallback" each."""
    texts = [projection.describe_state(state) for state in range(projection.n_states)]
    answers = ask_once(teacher, voice, texts, protocol, max_in_flight, projection)

    def label(observations: np.ndarray):
        states = projection.state_index(np.asarray(observations, dtype=np.float64).reshape(-1, 4))
        decisions = [answers[int(state)] for state in states]
        return (np.array([d.action for d in decisions], dtype=np.int64),
                np.array([d.p_right for d in decisions], dtype=np.float64), [d.status for d in decisions])

    return label
