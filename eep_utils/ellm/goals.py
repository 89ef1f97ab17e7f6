"""ELLM on CartPole: a chatbot suggests goals, an agent is rewarded for transitions that look like them.

ELLM (Du et al. 2023) moves an LLM's common sense into an agent without demonstrations: at each
step the LLM reads a caption of the state and the valid actions and suggests goals; the agent's
intrinsic reward is the cosine similarity between a caption of its transition and the closest
suggested goal, if that similarity exceeds a threshold T, else 0; a goal achieved once in an
episode is not rewarded again (the novelty filter). Here:

- the state caption is the 2023 text projection (`Projection.describe`), the words the 2023
  chatbot read; transitions are captioned by `captions.TransitionCaptioner`;
- goals come from any teacher (`teachers.Teacher`) through `goal_request` / `parse_goals`, and the
  offline `GoalTemplateStandIn` answers like a chatbot from a readable table of goal templates per
  persona and situation (`GOAL_TEMPLATES`);
- goals depend only on the text state, so they are asked once per state (`suggest_goals`);
- `ELLMReward` computes R_int for many episodes at once; `intrinsic_rewards` applies it to recorded
  `Transitions` (from `play_transitions`); `train_intrinsic_q_learner` trains an agent on R_int
  alone, never on CartPole's reward;
- analyses: `episode_rank_correlation`, `threshold_sweep`, `reward_by_state`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from eep_utils.ellm.captions import TransitionCaptioner
from eep_utils.cartpole.embodiment import ACTIONS, STUDY_2023, Projection, direction_named, opposite
from eep_utils.cartpole.body import play_decisions
from eep_utils.stats import Estimate, bootstrap_ci
from eep_utils.chat.running import acomplete_all, run_with
from eep_utils.chat.types import ChatAnswer, ChatRequest, Teacher
from eep_utils.personas import Persona, persona_in, persona_named

# ---------------------------------------------------------------------------------------------
# The goal prompt: a persona's sentence (eep_utils.personas) before the task

VALID_ACTIONS = ("push the cart left", "push the cart right")

GOAL_TASK = """Your task is to advise an agent that balances a pole on a cart.
The pole is hinged on top of the cart and can fall left or right; the cart runs on a short track.
Each turn you are told the actions the agent can take and what it senses, described as follows:
{schema}
Suggest goals the agent should try to achieve next, one per line, as short phrases."""

# One worked exchange shows the answer format, as ELLM's prompts did.
FEW_SHOT = (
    ("cart-position: center\ncart-velocity: stopped\npole-angular-velocity: zero\npole-angle: left", 2,
     "- push the cart left\n- bring the pole back to upright"),
)


def _goal_question(description: str, k: int, valid_actions) -> str:
    return f"Valid actions: {', '.join(valid_actions)}\nYou see:\n{description}\nSuggest {k} goals."


def goal_request(persona: str | Persona, description: str, k: int, projection: Projection = STUDY_2023,
                 valid_actions=VALID_ACTIONS) -> ChatRequest:
    """The chat request that asks a teacher, as `persona`, for `k` goals in the state `description`."""
    system = persona_named(persona).sentence + GOAL_TASK.format(schema=projection.schema())
    messages = [("system", system)]
    for example, example_k, answer in FEW_SHOT:
        messages += [("user", _goal_question(example, example_k, valid_actions)), ("assistant", answer)]
    messages.append(("user", _goal_question(description, k, valid_actions)))
    return ChatRequest(tuple(messages), temperature=0.0, max_tokens=40 * k)


# ---------------------------------------------------------------------------------------------
# Parsing goals out of free text

_LIST_MARKER = re.compile(r"^\s*(?:[-*•‣◦–]+|\(?\d{1,2}[.):]|\(?[a-eA-E][.)])\s+")
_INLINE_NUMBER = re.compile(r"\s+(?=\(?\d{1,2}[.)]\s)")
_LEAD_WORDS = re.compile(r"^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|next|then|finally|also|and|lastly)\b[,:]?\s*",
                         re.IGNORECASE)
_EXPLANATION = re.compile(r"\s+(?:-|–|—)\s+|:\s|\s\(")
_REFUSAL = re.compile(r"\b(?:i'?m sorry|i am sorry|i cannot|i can'?t|as an ai)\b", re.IGNORECASE)
_MAX_GOAL_WORDS = 16  # longer fragments are explanations, not goals


def parse_goals(text: str, k: int | None = None) -> list[str]:
    """The goals in a chatbot's answer, lower-case, in order, without duplicates, at most `k`.

    Lists (bullets, numbering, inline "1) … 2) …") give their items and drop any prose around
    them; prose is split into sentences and clauses (";"), after a lead-in ending in ":". An
    item's explanation after " - ", ": " or " (" is dropped. A refusal gives no goals."""
    if not text or _REFUSAL.search(text):
        return []
    text = _INLINE_NUMBER.sub("\n", text.replace("**", "").replace("__", ""))
    lines = [line for line in text.splitlines() if line.strip()]
    listed = [_LIST_MARKER.sub("", line, count=1) for line in lines if _LIST_MARKER.match(line)]
    if listed:
        fragments = listed
    else:
        prose = " ".join(lines)
        if ":" in prose.split(".")[0]:
            prose = prose.split(":", 1)[1]
        fragments = re.split(r"(?<=[.!?])\s+|;|\n", prose)
    goals = []
    for fragment in fragments:
        goal = _EXPLANATION.split(fragment.strip(), maxsplit=1)[0]
        goal = _LEAD_WORDS.sub("", goal.strip(" \t\"'`")).strip(" \t.,;:!\"'`").lower()
        goal = re.sub(r"\s+", " ", goal)
        if goal and len(goal.split()) <= _MAX_GOAL_WORDS and not goal.endswith("goals") and goal not in goals:
            goals.append(goal)
    return goals[:k] if k is not None else goals


# ---------------------------------------------------------------------------------------------
# The offline stand-in: goal templates per persona and situation

# What each persona suggests, most important first. Pole templates name the side the pole leans
# or swings to ({side}) and the other side ({other}); cart templates the side the cart is on.
# A stand-in answers a situation's pole goals, then its cart goals, then the persona's standing goals.
GOAL_TEMPLATES = {
    "newton": {
        "balanced": ["keep the pole upright and at rest"],
        "tipping": ["push the cart {side} to get under the pole", "stop the pole's rotation to the {side}"],
        "falling": ["push the cart {side} to get under the pole", "bring the pole back to upright",
                    "stop the pole from falling to the {side}"],
        "recovering": ["push the cart {side} so the pole does not overshoot", "let the pole swing back to upright"],
        "centered": ["keep the cart at rest near the center"],
        "off_center": ["push the cart {other} to bring it back toward the center"],
        "drifting_away": ["slow the cart before it reaches the {side} end of the track",
                          "push the cart {other} to bring it back toward the center"],
        "always": ["keep the pole balanced as long as possible", "keep the cart on the track"],
    },
    "no_persona": {
        "balanced": ["keep the pole upright"],
        "tipping": ["move the cart {side}", "keep the pole from falling {side}"],
        "falling": ["move the cart {side}", "keep the pole from falling {side}", "get the pole upright again"],
        "recovering": ["let the pole come back up", "do not push too hard"],
        "centered": ["keep the cart in the middle"],
        "off_center": ["move the cart {other} toward the middle"],
        "drifting_away": ["stop the cart before it leaves the track", "move the cart {other} toward the middle"],
        "always": ["keep the pole from falling over", "stay on the track"],
    },
    "aristotle": {
        "balanced": ["let the pole rest, as heavy things seek rest"],
        "tipping": ["push the cart {other} to hold the pole up", "let the pole seek its natural place"],
        "falling": ["push the cart {other} to hold the pole up", "let the pole come to rest in its natural place"],
        "recovering": ["push the cart {other} to help the pole rise", "let the pole find its place"],
        "centered": ["keep pushing the cart so it keeps moving"],
        "off_center": ["keep pushing the cart {side}, for it stops when no longer pushed"],
        "drifting_away": ["keep the cart moving {side}"],
        "always": ["keep the cart in motion", "let nature take its course"],
    },
}
# How each persona writes its list, so the parser meets numbering, bullets and prose.
ANSWER_STYLES = {"newton": "numbered", "no_persona": "bullets", "aristotle": "prose"}
_PUSH = re.compile(r"\b(?:push(?:ed)?|move) the cart (?:to the )?(\w+)")


def pushed_direction(text: str) -> str | None:
    """The direction in which a goal ("push the cart left to …", "move the cart to the right") or a
    transition caption ("you pushed the cart left, …") pushes the cart; None if it names no such push."""
    for push in _PUSH.finditer(text):
        direction = direction_named(push.group(1))
        if direction:
            return direction
    return None


def situation(projection: Projection, words: tuple[str, ...]) -> tuple[str, str | None, str, str | None]:
    """(pole situation, its side, cart situation, its side) of a text state, as the templates name them."""
    by_label = dict(zip((f.label for f in projection.features), words))
    lean, swing = direction_named(by_label["pole-angle"]), direction_named(by_label["pole-angular-velocity"])
    if lean is None:
        pole = ("balanced", None) if swing is None else ("tipping", swing)
    else:
        pole = ("recovering", lean) if swing == opposite(lean) else ("falling", lean)
    place, moving = direction_named(by_label["cart-position"]), direction_named(by_label["cart-velocity"])
    if place is None:
        cart = ("centered", None)
    else:
        cart = ("drifting_away", place) if moving == place else ("off_center", place)
    return (*pole, *cart)


def stand_in_goals(persona: str, projection: Projection, words: tuple[str, ...],
                   valid_actions=VALID_ACTIONS) -> list[str]:
    """Every goal the stand-in would suggest as `persona` in the text state `words`, most important first.

    Goals that push the cart in a direction the valid actions do not offer are left out."""
    templates = GOAL_TEMPLATES[persona]
    pole, pole_side, cart, cart_side = situation(projection, words)
    goals = []
    for template, side in ([(t, pole_side) for t in templates[pole]] + [(t, cart_side) for t in templates[cart]]
                           + [(t, None) for t in templates["always"]]):
        goal = template.format(side=side, other=opposite(side) if side else None)
        push = pushed_direction(goal)
        if push and f"push the cart {push}" not in valid_actions:
            continue
        if goal not in goals:
            goals.append(goal)
    return goals


def stand_in_rule_table(persona: str, projection: Projection = STUDY_2023, default: int = 1) -> np.ndarray:
    """The stand-in persona acting on its own advice: per text state, the push its first push goal names.

    States whose goals name no push get `default` (right, the 2023 scripts' fallback answer)."""
    table = np.full(projection.n_states, default, dtype=np.int64)
    for state in range(projection.n_states):
        for goal in stand_in_goals(persona, projection, projection.words_of_state(state)):
            push = pushed_direction(goal)
            if push:
                table[state] = ACTIONS.index(push)
                break
    return table


def _write_answer(goals: list[str], style: str) -> str:
    if style == "numbered":
        return "\n".join(f"{i}. {goal[0].upper()}{goal[1:]}." for i, goal in enumerate(goals, 1))
    if style == "bullets":
        return "\n".join(f"- {goal}" for goal in goals)
    return "I would suggest these goals: " + "; ".join(goals) + "."


class GoalTemplateStandIn:
    """An offline stand-in for a goal-suggesting chatbot: reads the persona, state, valid actions and k
    from the prompt, answers from `GOAL_TEMPLATES` in the persona's own style. Not a chatbot."""

    label = "ELLM goal templates (offline stand-in, not a chatbot)"
    is_chatbot = False
    model = "goal-templates"

    def __init__(self, projection: Projection = STUDY_2023):
        self.projection = projection

    def persona_of(self, system_message: str) -> str:
        """The key of the persona whose sentence (in any wording) opens the prompt; "no_persona" if none does."""
        found = persona_in(system_message)
        return found.key if found else "no_persona"

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        system = next((content for role, content in request.messages if role == "system"), "")
        question = [content for role, content in request.messages if role == "user"][-1]
        valid = re.search(r"^Valid actions:(.*)$", question, re.MULTILINE)
        wanted = re.search(r"Suggest (\d+) goals", question)
        seen = re.search(r"You see:\n(.*?)\nSuggest", question, re.DOTALL)
        if not (valid and wanted and seen):
            raise ValueError(f"the goal stand-in cannot read this prompt (not made by goal_request): {question!r}")
        persona = self.persona_of(system)
        words = self.projection.words_of_state(self.projection.parse_description(seen.group(1)))
        valid_actions = tuple(a.strip() for a in valid.group(1).split(","))
        goals = stand_in_goals(persona, self.projection, words, valid_actions)[:int(wanted.group(1))]
        return ChatAnswer(_write_answer(goals, ANSWER_STYLES[persona]), self.model)


# ---------------------------------------------------------------------------------------------
# Asking for goals: once per text state

@dataclass
class GoalSuggestions:
    """The goals one teacher suggested as one persona, for every text state (index = state)."""

    persona: str
    teacher: str
    is_chatbot: bool
    k: int
    goals: list[list[str]]
    answers: list[str]

    @property
    def vocabulary(self) -> list[str]:
        """Every distinct goal, in order of first suggestion."""
        return list(dict.fromkeys(goal for goals in self.goals for goal in goals))

    def goal_ids(self, k: int | None = None) -> np.ndarray:
        """(n_states, k) ids into `vocabulary` of each state's first k goals; -1 where fewer were given."""
        k = self.k if k is None else k
        index = {goal: i for i, goal in enumerate(self.vocabulary)}
        ids = np.full((len(self.goals), k), -1, dtype=np.int64)
        for state, goals in enumerate(self.goals):
            for slot, goal in enumerate(goals[:k]):
                ids[state, slot] = index[goal]
        return ids

    @property
    def unparsed_states(self) -> list[int]:
        """States whose answer gave no goal (kept in `answers` as received)."""
        return [state for state, goals in enumerate(self.goals) if not goals]

    def table(self, projection: Projection = STUDY_2023) -> pd.DataFrame:
        return pd.DataFrame({
            "state": np.arange(len(self.goals)),
            "description": [", ".join(projection.words_of_state(s)) for s in range(len(self.goals))],
            "goals": ["; ".join(goals) for goals in self.goals],
            "answer": self.answers,
        }).set_index("state")


def suggest_goals(teacher: Teacher, persona: str | Persona, k: int, projection: Projection = STUDY_2023,
                  max_in_flight: int = 8) -> GoalSuggestions:
    """Ask `teacher`, as `persona`, for `k` goals in every text state of `projection` (concurrently).

    An answer that yields no goals is kept and counted; its state simply gives no reward."""
    persona = persona_named(persona)
    requests = [goal_request(persona, projection.describe_state(s), k, projection) for s in range(projection.n_states)]
    answers = run_with(teacher, acomplete_all(teacher, requests, max_in_flight))
    return GoalSuggestions(persona.label, teacher.label, teacher.is_chatbot, k,
                           [parse_goals(answer.text, k) for answer in answers], [answer.text for answer in answers])


# ---------------------------------------------------------------------------------------------
# Transitions: what each decision did

@dataclass
class Transitions:
    """One row per decision: observation before, push, observation when the decision's frames ended.

    `after` is the observation at the end of the held frames, or the final one where the episode
    ended during them. `frame` is the frame at which the decision was taken."""

    before: np.ndarray
    actions: np.ndarray
    after: np.ndarray
    episode: np.ndarray
    decision: np.ndarray
    frame: np.ndarray
    returns: np.ndarray  # frames survived, per episode

    @property
    def n_episodes(self) -> int:
        return len(self.returns)

    @property
    def remaining(self) -> np.ndarray:
        """Frames until the episode ends, from each decision's frame."""
        return self.returns[self.episode] - self.frame

    @classmethod
    def concatenate(cls, parts: list["Transitions"]) -> "Transitions":
        """Several sets as one, episodes renumbered after each other."""
        offsets = np.cumsum([0] + [part.n_episodes for part in parts[:-1]])
        return cls(*(np.concatenate([getattr(part, name) for part in parts])
                     for name in ("before", "actions", "after")),
                   np.concatenate([part.episode + offset for part, offset in zip(parts, offsets)]),
                   *(np.concatenate([getattr(part, name) for part in parts]) for name in ("decision", "frame", "returns")))


def play_transitions(policy, n_episodes: int, seed: int, steps_per_decision: int = 2) -> Transitions:
    """Play `n_episodes` at once with `policy` ((n, 4) observations → n actions), recording every decision.

    Same seed, same episodes as `evaluation.play_episodes` with one batch."""
    returns = np.zeros(n_episodes, dtype=np.int64)
    parts = []
    for held in play_decisions(lambda envs, observations: policy(observations), n_episodes, seed, steps_per_decision):
        parts.append((held.before, held.actions, held.after, held.envs, np.full(len(held.envs), held.number),
                      np.full(len(held.envs), held.number * steps_per_decision)))
        returns[held.envs] += held.frames
    before, acts, after, episode, decisions, frame = (np.concatenate(column) for column in zip(*parts))
    return Transitions(before, acts, after, episode, decisions, frame, returns)


# ---------------------------------------------------------------------------------------------
# The intrinsic reward

def similarity_matrix(encoder, captions: list[str], goals: list[str]) -> np.ndarray:
    """Cosine similarity of every caption (rows) with every goal (columns); each text embedded once."""
    vectors = encoder.encode(list(captions) + list(goals))
    return vectors[:len(captions)] @ vectors[len(captions):].T


class ELLMReward:
    """R_int for many parallel episodes: the closest not-yet-achieved suggested goal's similarity
    to the transition's caption if it exceeds `threshold` (strictly, as in ELLM's code), else 0.

    `similarity` is (captions × goals); `state_goals` (text states × k) holds goal ids, -1 for none.
    With `novelty`, the goal that earned a reward counts as achieved for the rest of that episode
    and is no longer among the suggestions (ELLM marks its closest suggestion achieved)."""

    def __init__(self, similarity: np.ndarray, state_goals: np.ndarray, threshold: float, novelty: bool = True):
        self.similarity = np.asarray(similarity, dtype=np.float64)
        self.state_goals = np.asarray(state_goals, dtype=np.int64)
        if self.state_goals.size and self.state_goals.max() >= self.similarity.shape[1]:
            raise ValueError("state_goals names a goal the similarity matrix has no column for")
        self.threshold = threshold
        self.novelty = novelty
        self.achieved = np.zeros((0, self.similarity.shape[1]), dtype=bool)
        self.matched = np.zeros(0, dtype=np.int64)

    def reset(self, n_episodes: int) -> None:
        """New episodes: nothing achieved yet."""
        self.achieved = np.zeros((n_episodes, self.similarity.shape[1]), dtype=bool)

    def __call__(self, states: np.ndarray, caption_ids: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        """Rewards of one decision in each of `episodes` (distinct): taken in text `states`, captioned `caption_ids`."""
        goals = self.state_goals[states]
        offered = goals >= 0
        safe_goals = np.where(offered, goals, 0)
        if self.novelty:
            offered &= ~self.achieved[episodes[:, None], safe_goals]
        scores = np.where(offered, self.similarity[np.asarray(caption_ids)[:, None], safe_goals], -np.inf)
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        rewarded = best_score > self.threshold
        # Which goal each decision achieved (-1: none), for analyses of what was rewarded.
        self.matched = np.where(rewarded, safe_goals[np.arange(len(scores)), best], -1)
        if self.novelty:
            self.achieved[episodes[rewarded], self.matched[rewarded]] = True
        return np.where(rewarded, best_score, 0.0)


def intrinsic_rewards(reward: ELLMReward, transitions: Transitions, projection: Projection,
                      captioner: TransitionCaptioner, return_goals: bool = False):
    """R_int of every recorded decision, episodes replayed in step with each other (novelty per episode).

    Goals are those suggested for the state the decision was taken in, as in ELLM. With
    `return_goals`, also the id of the goal each decision achieved (-1 for none)."""
    states = projection.state_index(transitions.before)
    caption_ids = captioner.caption_ids(transitions.before, transitions.actions, transitions.after)
    rewards = np.zeros(len(states))
    goals = np.full(len(states), -1, dtype=np.int64)
    reward.reset(transitions.n_episodes)
    order = np.argsort(transitions.decision, kind="stable")
    boundaries = np.flatnonzero(np.diff(transitions.decision[order])) + 1
    for rows in np.split(order, boundaries):
        rewards[rows] = reward(states[rows], caption_ids[rows], transitions.episode[rows])
        goals[rows] = reward.matched
    return (rewards, goals) if return_goals else rewards


def threshold_for_share(share: float, similarity: np.ndarray, state_goals: np.ndarray, transitions: Transitions,
                        projection: Projection, captioner: TransitionCaptioner) -> float:
    """The threshold T at the (1 - `share`) quantile of the given decisions' closest-goal similarity
    (novelty aside): at most `share` of them pass it (ties with T do not pass).

    A way to set T from the similarities alone, never from CartPole's reward: ELLM's T = 0.99 was
    set for another sentence model and other captions."""
    states = projection.state_index(transitions.before)
    caption_ids = captioner.caption_ids(transitions.before, transitions.actions, transitions.after)
    goals = np.asarray(state_goals)[states]
    scores = np.where(goals >= 0, similarity[caption_ids[:, None], np.where(goals >= 0, goals, 0)], -np.inf)
    return float(np.quantile(scores.max(axis=1), 1 - share, method="higher"))


# ---------------------------------------------------------------------------------------------
# An agent trained on R_int alone

@dataclass
class QLearningResult:
    q: np.ndarray  # (text states, 2) action values under R_int
    table: np.ndarray  # the greedy push per text state
    history: pd.DataFrame  # per batch of episodes: exploration, R_int per episode, frames per episode


def train_intrinsic_q_learner(reward: ELLMReward, captioner: TransitionCaptioner, n_episodes: int, seed: int,
                              projection: Projection = STUDY_2023, steps_per_decision: int = 2, n_envs: int = 50,
                              learning_rate: float = 0.1, discount: float = 0.9,
                              epsilon_start: float = 1.0, epsilon_end: float = 0.05) -> QLearningResult:
    """Tabular Q-learning over text states with R_int as the only reward.

    Episodes run `n_envs` at a time; exploration is ε-greedy, ε falling linearly over the batches.
    The learner never sees CartPole's reward. It sees that an episode ended (a fall or leaving the
    track: nothing more can be earned), as any reinforcement learner does; a 500-frame timeout is
    not an end of the world, so it bootstraps there. The novelty filter makes R_int depend on the
    episode so far, which a table over text states cannot see: the table learns its average."""
    rng = np.random.default_rng(seed)
    q = np.zeros((projection.n_states, 2))
    n_batches = -(-n_episodes // n_envs)
    history = []
    for batch in range(n_batches):
        n = min(n_envs, n_episodes - batch * n_envs)
        epsilon = epsilon_start + (epsilon_end - epsilon_start) * batch / max(1, n_batches - 1)
        reward.reset(n)
        earned = np.zeros(n)
        lived = np.zeros(n, dtype=np.int64)

        def act(envs, observations):
            states = projection.state_index(observations)
            # Random tie-breaking, so an untrained table does not always push left.
            greedy = (q[states] + 1e-9 * rng.random((len(states), 2))).argmax(axis=1)
            explore = rng.random(len(states)) < epsilon
            return np.where(explore, rng.integers(0, 2, len(states)), greedy)

        # Lazily played: each decision's actions come from the table as updated by the decisions before it.
        for held in play_decisions(act, n, seed + batch, steps_per_decision):
            states = projection.state_index(held.before)
            caption_ids = captioner.caption_ids(held.before, held.actions, held.after)
            rewards = reward(states, caption_ids, held.envs)

            next_values = np.where(held.terminated, 0.0, q[projection.state_index(held.after)].max(axis=1))
            errors = rewards + discount * next_values - q[states, held.actions]
            np.add.at(q, (states, held.actions), learning_rate * errors)

            earned[held.envs] += rewards
            lived[held.envs] += held.frames
        history.append({"batch": batch, "episodes": (batch + 1) * n_envs if batch < n_batches - 1 else n_episodes,
                        "epsilon": epsilon, "intrinsic_return": earned.mean(), "frames": lived.mean()})
    # Unvisited states keep equal values and get "right", the 2023 scripts' fallback.
    table = np.where(q[:, 0] > q[:, 1], 0, 1).astype(np.int64)
    return QLearningResult(q, table, pd.DataFrame(history))


# ---------------------------------------------------------------------------------------------
# Analyses

def episode_rank_correlation(x, y, episode, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """Spearman's rank correlation of `x` with `y` over all rows, with a 95% bootstrap CI that
    resamples whole episodes (rows of one episode are not independent). NaN if either is constant."""
    x, y, episode = np.asarray(x, float), np.asarray(y, float), np.asarray(episode)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), len(np.unique(episode)))
    order = np.argsort(episode, kind="stable")
    rows_of = np.split(order, np.flatnonzero(np.diff(episode[order])) + 1)

    def statistic(chosen):
        rows = np.concatenate([rows_of[i] for i in chosen])
        return scipy_stats.spearmanr(x[rows], y[rows]).statistic

    return bootstrap_ci(statistic, np.arange(len(rows_of)), n_resamples=n_resamples, seed=seed)


def threshold_sweep(similarity: np.ndarray, suggestions: GoalSuggestions, trajectories: dict[str, Transitions],
                    thresholds, ks, projection: Projection, captioner: TransitionCaptioner,
                    novelty: bool = True) -> pd.DataFrame:
    """R_int for every threshold T and number of goals k (the teacher's first k), along each named set
    of trajectories: share of decisions rewarded, R_int per episode, and Spearman's correlation of
    R_int with the frames remaining (NaN where nothing is rewarded)."""
    rows = []
    for k in ks:
        goals = suggestions.goal_ids(k)
        for threshold in thresholds:
            reward = ELLMReward(similarity, goals, threshold, novelty)
            pooled = []
            for agent, transitions in trajectories.items():
                rewards = intrinsic_rewards(reward, transitions, projection, captioner)
                pooled.append((rewards, transitions.remaining))
                rows.append({"k": k, "threshold": threshold, "agent": agent, "share_rewarded": np.mean(rewards > 0),
                             "reward_per_episode": rewards.sum() / transitions.n_episodes,
                             "spearman_remaining": _spearman(rewards, transitions.remaining)})
            rewards, remaining = (np.concatenate(column) for column in zip(*pooled))
            rows.append({"k": k, "threshold": threshold, "agent": "all", "share_rewarded": np.mean(rewards > 0),
                         "reward_per_episode": np.nan, "spearman_remaining": _spearman(rewards, remaining)})
    return pd.DataFrame(rows)


def _spearman(x, y) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(scipy_stats.spearmanr(x, y).statistic)


def reward_by_state(rewards: np.ndarray, achieved_goals: np.ndarray, transitions: Transitions,
                    suggestions: GoalSuggestions, projection: Projection, min_decisions: int = 1) -> pd.DataFrame:
    """Per text state met at least `min_decisions` times: how often, mean R_int there, and the goal
    most often achieved from it; highest mean R_int first."""
    vocabulary = suggestions.vocabulary
    table = pd.DataFrame({"state": projection.state_index(transitions.before), "reward": rewards,
                          "goal": [vocabulary[g] if g >= 0 else None for g in achieved_goals]})
    summary = table.groupby("state").agg(decisions=("reward", "size"), mean_reward=("reward", "mean"),
                                         rewarded_share=("reward", lambda r: float(np.mean(r > 0))),
                                         most_achieved_goal=("goal", lambda g: g.mode().iloc[0] if g.notna().any() else "—"))
    summary = summary[summary["decisions"] >= min_decisions]
    summary.insert(0, "description", [", ".join(projection.words_of_state(s)) for s in summary.index])
    return summary.sort_values("mean_reward", ascending=False, kind="stable")


def push_direction_contrast(similarity: np.ndarray, captions: list[str], goals: list[str]) -> pd.DataFrame:
    """For each goal that names a push, its mean similarity to captions of that push and of the opposite
    one: how well the sentence model tells "left" from "right", which R_int depends on."""
    caption_push = np.array([pushed_direction(caption) or "" for caption in captions])
    rows = []
    for column, goal in enumerate(goals):
        side = pushed_direction(goal)
        if side:
            same = similarity[caption_push == side, column].mean()
            other = similarity[caption_push == opposite(side), column].mean()
            rows.append({"goal": goal, "same push": same, "opposite push": other, "difference": same - other})
    return pd.DataFrame(rows, columns=["goal", "same push", "opposite push", "difference"]).set_index("goal")
