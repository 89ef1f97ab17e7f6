"""The one persona registry: the same sentence opens the CartPole prompt and the goal prompt."""
import pytest

from eep_utils.cartpole.teaching import initial_messages, persona_sentence, system_prompt
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.chat.running import complete
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.ellm.goals import GoalTemplateStandIn, goal_request, parse_goals, stand_in_goals, voice_in
from eep_utils.personas import (CARTPOLE_PERSONAS, JUDGE_PERSONAS, MAIN_TEMPLATES, PERSONAS, WORDINGS, Persona, Voice,
                                persona_named, template_named, voices)


def test_newton_is_the_2023_sentence_word_for_word():
    assert persona_sentence(Voice("newton", "you-are", 1)) == "You are Sir Isaac Newton. "
    assert set(CARTPOLE_PERSONAS) == {"newton", "no_persona", "aristotle"}
    assert "no_persona" in JUDGE_PERSONAS and "aristotle" not in JUDGE_PERSONAS


@pytest.mark.parametrize("voice", voices(CARTPOLE_PERSONAS, MAIN_TEMPLATES), ids=lambda voice: voice.slug)
def test_the_cartpole_prompt_opens_with_the_voices_sentence_and_differs_only_there(voice):
    cartpole = system_prompt(voice)
    assert cartpole.startswith(persona_sentence(voice))
    assert cartpole.removeprefix(persona_sentence(voice)).startswith("Your task is to balance a cartpole.")
    # The control is explicit (a neutral assistant said in the text), like any persona.
    assert persona_sentence(voice).strip()
    # Everything after the system prompt (the 2023 example turns) is the same for every voice.
    assert initial_messages(voice)[1:] == initial_messages(Voice("newton", "you-are", 1))[1:]
    assert RuleStandIn(voice).rule == RuleStandIn(voice.persona).rule


@pytest.mark.parametrize("voice", voices(CARTPOLE_PERSONAS, MAIN_TEMPLATES), ids=lambda voice: voice.slug)
def test_the_goal_prompt_opens_with_the_voices_introduction_and_is_recognised_by_it(voice):
    """As chapter 02's CartPole prompt: the template's introduction of the persona, then the task; the
    neutral control says who it is like any persona (no chat template's hidden default)."""
    system = goal_request(voice, STUDY_2023.describe_state(0), 3).messages[0][1]
    introduction = template_named(voice.template).introduce(voice.of(), voice.wording)
    assert system.startswith(introduction + " Your task is to advise an agent")
    assert voice_in(system) == voice
    # A persona's key stands for its voice in the 2023 frame and first wording: Newton's 2023 sentence.
    assert goal_request("newton", "x", 3).messages[0][1].startswith("You are Sir Isaac Newton. Your task")


@pytest.mark.parametrize("key", list(PERSONAS))
def test_every_persona_has_a_second_wording_that_stays_the_same_persona(key):
    persona = PERSONAS[key]
    assert persona.identity(1) != persona.identity(2)
    first, second = (Voice(key, "you-are", wording) for wording in WORDINGS)
    assert first.label != second.label and first.persona == second.persona
    assert persona_sentence(first) != persona_sentence(second)


def test_the_goal_stand_in_answers_every_template_and_wording_as_the_persona():
    state = STUDY_2023.state_of_words(("center", "stopped", "rightwards", "right"))
    for voice in voices(CARTPOLE_PERSONAS, MAIN_TEMPLATES):
        answer = complete(GoalTemplateStandIn(), goal_request(voice, STUDY_2023.describe_state(state), 3))
        words = STUDY_2023.words_of_state(state)
        assert parse_goals(answer.text) == stand_in_goals(voice.persona, STUDY_2023, words)[:3]
    with pytest.raises(ValueError, match="knows the personas"):
        complete(GoalTemplateStandIn(), goal_request(Voice("herpetologist", "you-are"), "x", 3))


def test_unknown_personas_templates_and_wordings_are_refused():
    with pytest.raises(ValueError, match="unknown persona 'einstein'"):
        persona_named("einstein")
    with pytest.raises(ValueError, match="unknown template"):
        Voice("newton", "sonnet")
    with pytest.raises(ValueError, match="wordings"):
        Voice("newton", "you-are", 3)
    with pytest.raises(ValueError, match="likes and dislikes in both wordings"):
        Persona("x", "X", ("X", "Y"), likes=(("a",), ()), dislikes=(("b",), ()))
