"""ELLM on CartPole: captions, goal parsing, the goal stand-in, the intrinsic reward and its learner."""
import ast
import inspect
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eep_utils.book.report import claim
from eep_utils.cartpole.body import Rollouts
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.evaluation import RandomPolicy, play_episodes
from eep_utils.chat.embeddings import shared_minilm
from eep_utils.chat.running import complete
from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.ellm.captions import CART_CLAUSES, POLE_CLAUSES, TransitionCaptioner
from eep_utils.ellm.goals import (
    GOAL_TEMPLATES,
    GoalSuggestions,
    GoalTemplateStandIn,
    advised_actions,
    goal_request,
    parse_goals,
    pushed_direction,
    stand_in_goals,
    WorkedExample,
    suggest_goals,
)
from eep_utils.ellm.rewards import (
    ELLMReward,
    episode_rank_correlation,
    intrinsic_rewards,
    push_direction_contrast,
    reward_by_state,
    similarity_matrix,
    threshold_for_share,
    threshold_sweep,
    train_intrinsic_q_learner,
)
from eep_utils.ellm.verdicts import (
    LARGE_EFFECT,
    SMALL_EFFECT,
    compared,
    copied_example_share,
    copied_goal_share,
    depends_on_state,
    direction_sentence,
    paired_difference,
    push_effect,
    same_goals_share,
    sign_word,
    state_dependent,
    verdict,
)
from eep_utils.experiments import ellm as ellm_experiment
from eep_utils.personas import CARTPOLE_PERSONAS as PERSONAS
from eep_utils.stats import Estimate, mean_ci

CAPTIONER = TransitionCaptioner()


def _caption(before, action, after):
    return CAPTIONER.captions(np.array([before]), np.array([action]), np.array([after]))[0]


# --------------------------------------------------------------------------------------------
# Transition captions

@pytest.mark.parametrize("before, action, after, expected", [
    ((0, 0, 0.005, 0), 0, (0, 0, -0.004, 0), "you pushed the cart left, the pole stayed upright and the cart stood still"),
    ((0, 0, 0.05, 0), 1, (0, 0, 0.03, 0), "the pole swung back toward upright"),
    ((0, 0, 0.05, 0), 1, (0, 0, 0.01, 0), "the pole swung back to upright"),  # on the band: still upright
    ((0, 0, 0.0, 0), 1, (0, 0, 0.02, 0), "the pole started to tip right"),
    ((0, 0, 0.05, 0), 0, (0, 0, -0.05, 0), "the pole swung over to the left"),
    ((0, 0, -0.05, 0), 0, (0, 0, -0.08, 0), "the pole tipped further left"),
    ((0, 0, 0.20, 0), 1, (0, 0, 0.22, 0), "the pole fell over to the right"),
    ((0, 0, 0, 0), 1, (0.5, 0.5, 0, 0), "the cart moved right, away from the center"),
    ((0, 0, 0, 0), 0, (0.5, -0.5, 0, 0), "the cart moved left, back toward the center"),
    ((0, 0, 0, 0), 0, (0.05, -0.5, 0, 0), "the cart moved left through the center"),
    ((0, 0, 0, 0), 0, (0.5, 0.1, 0, 0), "the cart stood still"),  # on the band: still
    ((0, 0, 0, 0), 1, (2.41, 1.0, 0, 0), "the cart ran off the right end of the track"),
])
def test_transition_captions_say_what_changed(before, action, after, expected):
    assert expected in _caption(before, action, after)


def test_caption_vocabulary_lists_every_caption_once():
    vocabulary = CAPTIONER.vocabulary
    assert len(vocabulary) == 2 * len(POLE_CLAUSES) * len(CART_CLAUSES) == len(set(vocabulary))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=8, max_size=8), st.integers(0, 1))
def test_captions_are_mirror_symmetric(values, action):
    """Mirroring the world (every quantity's sign, and the push) swaps left and right in the caption."""
    before, after = np.array(values[:4]), np.array(values[4:])
    if np.any(np.abs(np.concatenate([before, after])) < 1e-9):
        return  # a quantity exactly zero has no mirror side
    caption = _caption(before, action, after)
    mirrored = _caption(-before, 1 - action, -after)
    swapped = re.sub(r"\b(left|right)\b", lambda m: {"left": "right", "right": "left"}[m.group(1)], caption)
    assert mirrored == swapped
    assert caption in CAPTIONER.vocabulary


def test_captioner_refuses_bad_input():
    with pytest.raises(ValueError, match="actions"):
        CAPTIONER.caption_ids(np.zeros((2, 4)), np.array([0]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="0 \\(left\\) or 1"):
        CAPTIONER.caption_ids(np.zeros((1, 4)), np.array([2]), np.zeros((1, 4)))


# --------------------------------------------------------------------------------------------
# Goals from messy answers

@pytest.mark.parametrize("answer, goals", [
    ("1. Push the cart right.\n2. Keep the pole upright\n3) Stay centered",
     ["push the cart right", "keep the pole upright", "stay centered"]),
    ("Here are some goals:\n- push the cart left\n* keep the pole upright - so it cannot fall\n• stay on the track\nGood luck!",
     ["push the cart left", "keep the pole upright", "stay on the track"]),
    ("I would suggest these goals: push left; keep the pole upright; stay on the track.",
     ["push left", "keep the pole upright", "stay on the track"]),
    ("First, push the cart right. Then bring the pole back to upright. Finally, keep the cart near the center.",
     ["push the cart right", "bring the pole back to upright", "keep the cart near the center"]),
    ("1) push right 2) keep upright 3) slow down", ["push right", "keep upright", "slow down"]),
    ("**1. Push the cart right**: this moves the cart under the pole.\n**2. Keep it upright** (important)",
     ["push the cart right", "keep it upright"]),
    ("Goals:\n\n1. push left\n\n2. Push left\n3. PUSH LEFT!", ["push left"]),
    ("Push the cart right to catch the pole", ["push the cart right to catch the pole"]),
    ("I'm sorry, but I can't help with that.", []),
    ("", []),
])
def test_goals_are_parsed_from_lists_and_prose(answer, goals):
    assert parse_goals(answer) == goals


def test_goal_parsing_keeps_the_first_k():
    assert parse_goals("- a b\n- c d\n- e f", k=2) == ["a b", "c d"]


# --------------------------------------------------------------------------------------------
# The goal prompt and its offline stand-in

def _state(position, velocity, spin, angle):
    return STUDY_2023.state_of_words((position, velocity, spin, angle))


def test_stand_in_reads_persona_state_and_k_from_the_prompt_and_answers_parseably():
    stand_in = GoalTemplateStandIn()
    for persona in PERSONAS:
        for state in (0, 13, 40, 80):
            words = STUDY_2023.words_of_state(state)
            answer = complete(stand_in, goal_request(persona, STUDY_2023.describe_state(state), 3))
            assert parse_goals(answer.text) == stand_in_goals(persona, STUDY_2023, words)[:3]
    assert stand_in.is_chatbot is False and "stand-in" in stand_in.label


def test_personas_differ_where_the_pole_falls():
    falling_right = STUDY_2023.describe_state(_state("center", "stopped", "rightwards", "right"))
    goals = {p: parse_goals(complete(GoalTemplateStandIn(), goal_request(p, falling_right, 2)).text)
             for p in PERSONAS}
    assert goals["newton"][0] == "push the cart right to get under the pole"
    assert goals["aristotle"][0] == "push the cart left to hold the pole up"
    assert len({tuple(g) for g in goals.values()}) == 3


def test_stand_in_suggests_only_pushes_the_valid_actions_allow():
    falling_right = STUDY_2023.describe_state(_state("center", "stopped", "rightwards", "right"))
    request = goal_request("newton", falling_right, 5, valid_actions=("push the cart left",))
    goals = parse_goals(complete(GoalTemplateStandIn(), request).text)
    assert goals and not any("push the cart right" in g for g in goals)


def test_stand_in_refuses_a_prompt_it_cannot_read():
    with pytest.raises(ValueError, match="goal_request"):
        complete(GoalTemplateStandIn(), ChatRequest((("user", "what now?"),)))


def test_goal_request_names_the_persona_state_and_actions():
    request = goal_request("newton", STUDY_2023.describe_state(5), 4)
    system, question = request.messages[0][1], request.messages[-1][1]
    assert system.startswith("You are Sir Isaac Newton.") and STUDY_2023.schema() in system
    assert "Valid actions: push the cart left, push the cart right" in question and "Suggest 4 goals." in question
    assert STUDY_2023.describe_state(5) in question
    with pytest.raises(ValueError, match="unknown persona"):
        goal_request("einstein", STUDY_2023.describe_state(5), 4)


def _prompt_rule(words):
    """The 2023 prompt's rule: push where the pole leans; if upright, where it swings (None if neither)."""
    angle, spin = words[3], words[2]
    side = angle if angle != "upright" else {"leftwards": "left", "rightwards": "right"}.get(spin)
    return None if side is None else int(side == "right")


def test_newton_stand_in_acts_on_the_prompt_rule_wherever_the_pole_is_not_balanced():
    newton, aristotle = (advised_actions(suggest_goals(GoalTemplateStandIn(), p, k=5)) for p in ("newton", "aristotle"))
    for state in range(STUDY_2023.n_states):
        push = _prompt_rule(STUDY_2023.words_of_state(state))
        if push is not None:
            assert newton[state] == push, STUDY_2023.words_of_state(state)
            assert aristotle[state] == 1 - push, "the contrasting persona pushes away from the fall"


class _Advising:
    """A chatbot-like teacher whose goals name a push to the left, a push to the right, both, or none."""

    label, is_chatbot = "advising test teacher", True

    async def acomplete(self, request):
        state = STUDY_2023.parse_description(request.messages[-1][1].split("You see:\n")[1].split("\nSuggest")[0])
        answers = ["1. Keep the pole up.\n2. Push the cart left.\n3. Push the cart right.",  # both: first named
                   "- move the cart to the right\n- stay calm",
                   "Stay calm and keep the pole balanced.",  # none: the default
                   "1. Push the cart left to catch the pole."]
        return ChatAnswer(answers[state % 4], "test")


def test_advised_actions_follow_the_teachers_own_goals():
    suggestions = suggest_goals(_Advising(), "newton", k=3)
    table = advised_actions(suggestions)
    expected = np.array([[0, 1, 1, 0][state % 4] for state in range(STUDY_2023.n_states)])
    np.testing.assert_array_equal(table, expected)
    np.testing.assert_array_equal(advised_actions(suggestions, default=0), np.where(np.arange(81) % 4 == 2, 0, expected))
    # Not the stand-in's advice: the table is the configured teacher's.
    stand_in = advised_actions(suggest_goals(GoalTemplateStandIn(), "newton", k=3))
    assert not np.array_equal(table, stand_in)


def test_chapter_05_builds_its_teacher_from_the_configured_teachers_goals():
    """The teacher acting on its advice, and the student imitating it, come from the goals of the teacher
    the chapter is configured with, never from the offline stand-in's own templates."""
    code = inspect.getsource(ellm_experiment)
    called = {node.func.id for node in ast.walk(ast.parse(code))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not {name for name in called if name.startswith("stand_in")}, "a table from the stand-in's templates"
    tables = [ast.unparse(node) for node in ast.walk(ast.parse(code))
              if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LookupTablePolicy"]
    advice = [table for table in tables if "advised_actions(" in table]
    assert len(advice) == 2, tables  # the agent in the trajectories and the per-persona rows of the comparison


def test_every_persona_has_every_situation():
    situations = {"balanced", "tipping", "falling", "recovering", "centered", "off_center", "drifting_away", "always"}
    assert set(GOAL_TEMPLATES) == set(PERSONAS)
    assert all(set(templates) == situations for templates in GOAL_TEMPLATES.values())


class _Mumbling:
    """A teacher that refuses in some states and answers in a list elsewhere."""

    label, is_chatbot = "mumbling test teacher", True

    async def acomplete(self, request):
        state = STUDY_2023.parse_description(request.messages[-1][1].split("You see:\n")[1].split("\nSuggest")[0])
        text = "I'm sorry, I cannot do that." if state % 10 == 0 else "1. push left\n2. keep it up\n3. go"
        return ChatAnswer(text, "test")


def test_suggestions_keep_unparseable_answers_and_pad_missing_goals():
    suggestions = suggest_goals(_Mumbling(), "newton", k=2)
    assert suggestions.unparsed_states == list(range(0, STUDY_2023.n_states, 10))
    assert suggestions.answers[0] == "I'm sorry, I cannot do that."
    assert suggestions.vocabulary == ["push left", "keep it up"]
    ids = suggestions.goal_ids()
    assert ids.shape == (STUDY_2023.n_states, 2) and np.all(ids[0] == -1) and list(ids[1]) == [0, 1]
    assert suggestions.goal_ids(k=1).shape == (STUDY_2023.n_states, 1)
    assert suggestions.teacher == "mumbling test teacher" and suggestions.is_chatbot


def test_goals_can_be_asked_from_inside_a_running_event_loop():
    """Notebooks run in a kernel with its own event loop; asking must work there too."""
    import asyncio

    async def inside_a_loop():
        return suggest_goals(GoalTemplateStandIn(), "newton", k=2)

    assert asyncio.run(inside_a_loop()).goals[40]


def test_goal_teacher_comes_from_the_teacher_layer_offline():
    stand_in = GoalTemplateStandIn()
    assert make_teacher("stand-in", stand_in=stand_in, experiment="ellm-goals-test") is stand_in
    assert not stand_in.is_chatbot and "not a chatbot" in stand_in.label


# --------------------------------------------------------------------------------------------
# The intrinsic reward

def _one_state_reward(similarities, threshold, novelty=True):
    """A reward over one caption (id 0) and goals with the given similarities, all offered in state 0."""
    similarity = np.array([similarities], dtype=float)
    return ELLMReward(similarity, np.arange(len(similarities))[None, :], threshold, novelty)


def _step(reward, episodes):
    episodes = np.asarray(episodes)
    return reward(np.zeros(len(episodes), int), np.zeros(len(episodes), int), episodes)


def test_reward_is_the_best_similarity_strictly_above_the_threshold():
    reward = _one_state_reward([0.5, 0.3], threshold=0.5)
    reward.reset(1)
    assert _step(reward, [0])[0] == 0.0, "a similarity exactly at the threshold earns nothing (ELLM: >)"
    reward = _one_state_reward([0.5, 0.3], threshold=np.nextafter(0.5, 0))
    reward.reset(1)
    assert _step(reward, [0])[0] == 0.5


def test_novelty_filter_rewards_each_goal_once_per_episode():
    reward = _one_state_reward([0.9, 0.7, 0.2], threshold=0.5)
    reward.reset(2)
    assert list(_step(reward, [0])) == [0.9]
    assert list(_step(reward, [0])) == [0.7], "the achieved goal is filtered; the next best still counts"
    assert list(_step(reward, [0])) == [0.0], "the rest are below the threshold"
    assert list(_step(reward, [1])) == [0.9], "another episode starts afresh"
    reward.reset(1)
    assert list(_step(reward, [0])) == [0.9], "reset starts new episodes"
    without = _one_state_reward([0.9, 0.7, 0.2], threshold=0.5, novelty=False)
    without.reset(1)
    assert [_step(without, [0])[0] for _ in range(3)] == [0.9, 0.9, 0.9]


def test_state_without_goals_earns_nothing():
    reward = ELLMReward(np.array([[0.99]]), np.array([[-1, -1], [0, -1]]), threshold=0.1)
    reward.reset(2)
    assert list(reward(np.array([0, 1]), np.array([0, 0]), np.array([0, 1]))) == [0.0, 0.99]


def test_reward_refuses_goal_ids_beyond_the_similarity_matrix():
    with pytest.raises(ValueError, match="no column"):
        ELLMReward(np.zeros((2, 3)), np.array([[0, 3]]), 0.5)


def test_reward_on_hand_made_captions_with_the_offline_model():
    caption = "you pushed the cart right, the pole swung back toward upright and the cart stood still"
    goals = ["push the cart right", "bake a chocolate cake", caption]
    similarity = similarity_matrix(shared_minilm(), [caption], goals)
    assert similarity[0, 0] > similarity[0, 1] + 0.2
    assert similarity[0, 2] == pytest.approx(1.0, abs=1e-5)

    reward = ELLMReward(similarity, np.array([[0, 1, 2]]), threshold=0.99)
    reward.reset(1)
    assert _step(reward, [0])[0] == pytest.approx(1.0, abs=1e-5), "the caption itself as a goal passes T = 0.99"
    assert _step(reward, [0])[0] == 0.0, "…once; a paraphrase does not pass T = 0.99"
    at_push = float(similarity[0, 0])
    reward = ELLMReward(similarity, np.array([[0, 1]]), threshold=at_push)
    reward.reset(1)
    assert _step(reward, [0])[0] == 0.0
    reward = ELLMReward(similarity, np.array([[0, 1]]), threshold=np.nextafter(at_push, 0))
    reward.reset(1)
    assert _step(reward, [0])[0] == at_push


def test_intrinsic_rewards_follow_each_episode_in_time_order():
    # Two episodes interleaved; same state and caption throughout; one goal worth 0.8.
    transitions = Rollouts(observations=np.zeros((5, 4)), actions=np.zeros(5, int),
                           next_observations=np.zeros((5, 4)), terminated=np.zeros(5, bool),
                           episode=np.array([0, 1, 0, 1, 0]),
                           decision=np.array([0, 0, 1, 1, 2]), t=np.array([0, 0, 2, 2, 4]), returns=np.array([6, 4]),
                           initial_states=np.zeros((2, 4)))
    captions = CAPTIONER.caption_ids(transitions.observations, transitions.actions, transitions.next_observations)
    similarity = np.zeros((len(CAPTIONER.vocabulary), 1))
    similarity[captions[0], 0] = 0.8
    goals = np.zeros((STUDY_2023.n_states, 1), int)
    rewards, achieved = intrinsic_rewards(ELLMReward(similarity, goals, 0.5), transitions, STUDY_2023, CAPTIONER,
                                          return_goals=True)
    assert list(rewards) == [0.8, 0.8, 0.0, 0.0, 0.0]
    assert list(achieved) == [0, 0, -1, -1, -1]
    assert list(transitions.remaining) == [6, 4, 4, 2, 2]


def test_threshold_for_share_sits_at_that_quantile_of_decisions():
    transitions = play_episodes(RandomPolicy(5), 40, seed=21, steps_per_decision=2, record=True)
    caption_ids = CAPTIONER.caption_ids(transitions.observations, transitions.actions, transitions.next_observations)
    similarity = np.random.default_rng(0).random((len(CAPTIONER.vocabulary), 3))
    goals = np.tile([0, 1, -1], (STUDY_2023.n_states, 1))
    threshold = threshold_for_share(0.25, similarity, goals, transitions, STUDY_2023, CAPTIONER)
    best = similarity[caption_ids][:, :2].max(axis=1)
    # Few distinct captions give ties: at most the share passes strictly, at least it reaches T.
    assert np.mean(best > threshold) <= 0.25 <= np.mean(best >= threshold)
    assert threshold in best


# --------------------------------------------------------------------------------------------
# The R_int learner

def test_q_learner_learns_the_push_its_reward_asks_for_and_is_seeded():
    # Reward only captions of a push to the left (untried states default to right), with no
    # discounting, so a state's left value is exactly its reward.
    similarity = np.array([[1.0 if caption.startswith("you pushed the cart left") else 0.0]
                           for caption in CAPTIONER.vocabulary])
    goals = np.zeros((STUDY_2023.n_states, 1), int)

    def train():
        return train_intrinsic_q_learner(ELLMReward(similarity, goals, 0.5, novelty=False), CAPTIONER, 150,
                                         seed=4, n_envs=30, discount=0.0)

    first, again = train(), train()
    np.testing.assert_array_equal(first.q, again.q)
    assert np.all(first.q[:, 1] == 0)
    rewarded = np.flatnonzero(first.q[:, 0] > 0)
    assert len(rewarded) > 10 and np.all(first.table[rewarded] == 0)
    assert np.all(first.table[first.q[:, 0] == 0] == 1)
    assert list(first.history["episodes"])[-1] == 150
    assert first.history["epsilon"].iloc[-1] == pytest.approx(0.05)


# --------------------------------------------------------------------------------------------
# Analyses

def test_episode_rank_correlation_resamples_episodes():
    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(40), 5)
    x = rng.random(200)
    assert episode_rank_correlation(x, 2 * x + 1, episode, n_resamples=200).value == pytest.approx(1.0)
    noise = episode_rank_correlation(x, rng.random(200), episode, n_resamples=200)
    assert noise.low < 0 < noise.high and noise.n == 40
    assert np.isnan(episode_rank_correlation(np.zeros(200), x, episode, n_resamples=10).value)


def test_sweep_and_per_state_table_on_a_stand_in():
    suggestions = suggest_goals(GoalTemplateStandIn(), "newton", k=3)
    similarity = np.random.default_rng(1).random((len(CAPTIONER.vocabulary), len(suggestions.vocabulary)))
    trajectories = {"random": play_episodes(RandomPolicy(2), 20, seed=3, steps_per_decision=2, record=True)}
    sweep = threshold_sweep(similarity, suggestions, trajectories, [0.5, 1.0], [1, 3], STUDY_2023, CAPTIONER)
    assert len(sweep) == 2 * 2 * 2 and set(sweep["agent"]) == {"random", "all"}
    never = sweep[sweep["threshold"] == 1.0]
    assert np.all(never["share_rewarded"] == 0) and never["spearman_remaining"].isna().all()
    random_rows = sweep[(sweep["agent"] == "random") & (sweep["threshold"] == 0.5)].set_index("k")
    assert random_rows.loc[3, "share_rewarded"] >= random_rows.loc[1, "share_rewarded"], "more goals, more chances"

    reward = ELLMReward(similarity, suggestions.goal_ids(), 0.5)
    rewards, achieved = intrinsic_rewards(reward, trajectories["random"], STUDY_2023, CAPTIONER, return_goals=True)
    table = reward_by_state(rewards, achieved, trajectories["random"], suggestions, STUDY_2023, min_decisions=2)
    assert table["decisions"].min() >= 2 and table["mean_reward"].is_monotonic_decreasing
    assert set(table["most_achieved_goal"]) <= set(suggestions.vocabulary) | {"—"}


def test_push_direction_contrast_compares_same_and_opposite_pushes():
    captions = ["you pushed the cart left, x", "you pushed the cart right, y", "you pushed the cart left, z"]
    goals = ["push the cart left now", "stay calm"]
    similarity = np.array([[0.9, 0.1], [0.5, 0.1], [0.7, 0.1]])
    table = push_direction_contrast(similarity, captions, goals)
    assert list(table.index) == ["push the cart left now"]
    assert table.loc["push the cart left now"].tolist() == pytest.approx([0.8, 0.5, 0.3])


@pytest.mark.parametrize("text, direction", [
    ("push the cart left to get under the pole", "left"), ("move the cart to the right", "right"),
    ("move the cart toward the middle, then push the cart right", "right"),
    ("you pushed the cart left, the pole stayed upright and the cart moved right", "left"),
    ("keep the pole upright", None), ("stop the pole from falling to the right", None),
    ("keep pushing the cart left", None),  # not a push the valid actions name
])
def test_pushed_direction_reads_the_push_a_goal_or_caption_names(text, direction):
    assert pushed_direction(text) == direction


# --------------------------------------------------------------------------------------------
# What the chapter's numbers say (verdicts)

def test_paired_difference_is_taken_episode_by_episode():
    baseline = np.array([10, 20, 30, 40])
    better = paired_difference(baseline + [2, 2.1, 1.9, 2], baseline)
    assert better.value == pytest.approx(2) and better.n == 4
    # The same gap is certain when paired, though the returns themselves vary a lot.
    assert better.low > 1.5 and mean_ci(baseline + 2).low < mean_ci(baseline).high
    with pytest.raises(ValueError, match="equal episode counts"):
        paired_difference([1, 2], [1, 2, 3])


@pytest.mark.parametrize("low, high, status, words", [
    (0.5, 2.0, "shown", "above"),
    (-2.0, -0.5, "not shown", "below"),
    (0.0, 0.0, "not shown", "level with"),  # two policies that played every episode alike
    (-1.0, 1.0, "inconclusive", "not distinguishable from (the 95% CI of the difference spans zero)"),
    (0.0, 1.0, "inconclusive", "not distinguishable from (the 95% CI of the difference spans zero)"),
])
def test_a_claims_status_follows_where_the_ci_lies(low, high, status, words):
    difference = Estimate((low + high) / 2, low, high, 100)
    shown, decidable = verdict(difference)
    assert claim("x", shown, "evidence", "teacher", decidable=decidable)["status"] == status
    assert compared(difference) == words
    assert compared(difference, explain=False) == words.split(" (")[0]


def test_sign_word_reads_the_ci():
    assert sign_word(Estimate(0.3, 0.1, 0.5, 10)) == "positive"
    assert sign_word(Estimate(-0.3, -0.5, -0.1, 10)) == "negative"
    assert sign_word(Estimate(0.1, -0.1, 0.3, 10)) == "not distinguishable from zero"


def test_push_effect_measures_the_contrast_in_units_of_the_similarity_spread():
    captions = ["you pushed the cart left, a", "you pushed the cart right, b",
                "you pushed the cart left, c", "you pushed the cart right, d"]
    goals = ["push the cart left", "keep calm"]
    similarity = np.array([[0.9, 0.1], [0.1, 0.1], [0.9, 0.1], [0.1, 0.1]])
    contrast = push_direction_contrast(similarity, captions, goals)
    effect = push_effect(contrast, similarity, goals)
    assert effect == pytest.approx(0.8 / 0.4)  # a contrast of 0.8 against a spread of 0.4
    assert "clearly" in direction_sentence(effect)
    assert "barely" in direction_sentence(SMALL_EFFECT / 2)
    assert "weakly" in direction_sentence((SMALL_EFFECT + LARGE_EFFECT) / 2)
    assert "opposite push than its own" in direction_sentence(-LARGE_EFFECT)
    assert np.isnan(push_effect(push_direction_contrast(similarity, captions, ["keep calm"]),
                                similarity, ["keep calm"]))
    assert "none of the goals names a push" in direction_sentence(float("nan"))


def test_persona_and_copy_shares_count_states():
    left = WorkedExample(("center", "stopped", "zero", "left"), ("push the cart left", "bring the pole up"))
    right = WorkedExample(("left", "stopped", "zero", "right"), ("push the cart right", "mind the track"))
    shown = [(left, right), (left, right), (left,)]
    # State 0 copies an example (order aside), state 1 takes one goal of one, state 2 copies one not shown here.
    first = GoalSuggestions("newton", "t", True, 2,
                            [["bring the pole up", "push the cart left"], ["push the cart right", "go"],
                             ["push the cart right", "mind the track"]], ["a", "b", "c"], shown)
    second = GoalSuggestions("aristotle", "t", True, 2,
                             [["push the cart left", "bring the pole up"], ["go", "push the cart right"], ["e"]],
                             ["y", "x", "z"], shown)
    assert same_goals_share(first, second) == pytest.approx(2 / 3)  # order within a state aside
    assert copied_example_share(first) == pytest.approx(1 / 3)
    assert copied_goal_share(first) == pytest.approx(3 / 6)  # both goals of state 0, one of state 1
    assert copied_example_share(second) == pytest.approx(1 / 3) and copied_goal_share(second) == pytest.approx(3 / 5)
    # Without worked examples nothing can be a copy.
    unshown = GoalSuggestions("newton", "t", True, 2, first.goals, first.answers)
    assert copied_example_share(unshown) == 0 and copied_goal_share(unshown) == 0


def _suggesting(goals, shown):
    return GoalSuggestions("newton", "t", True, 2, goals, ["answer"] * len(goals), shown)


def test_goals_depend_on_the_state_only_where_they_are_no_copy_and_not_the_common_answer():
    one = WorkedExample(("center", "stopped", "zero", "left"), ("push the cart left",))
    two = WorkedExample(("left", "stopped", "zero", "right"), ("push the cart right",))
    # Two sets of examples, three states each. Set one: the common answer twice, one other answer. Set two: a
    # copy, the set's common answer ("hold"), and no goal at all.
    shown = [(one,), (one,), (one,), (two,), (two,), (two,), (two,)]
    goals = [["hold"], ["hold"], ["lean"], ["push the cart right"], ["wait"], ["wait"], []]
    np.testing.assert_array_equal(state_dependent(_suggesting(goals, shown)), [0, 0, 1, 0, 0, 0, 0])
    # The same answers without examples: the common answer over all states is "hold" (first of the ties).
    unshown = GoalSuggestions("newton", "t", True, 2, goals, ["answer"] * 7)
    np.testing.assert_array_equal(state_dependent(unshown), [0, 0, 1, 1, 1, 1, 0])
    assert not depends_on_state(_suggesting(goals, shown)) and depends_on_state(unshown)
    # An answer that changes only with the examples shown does not depend on the state.
    by_examples = [["hold"]] * 3 + [["wait"]] * 4
    assert not state_dependent(_suggesting(by_examples, shown)).any()
    assert state_dependent(GoalSuggestions("newton", "t", True, 2, by_examples, ["answer"] * 7)).sum() == 3
