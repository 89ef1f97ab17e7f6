"""The one persona registry: the same sentence opens the CartPole prompt and the goal prompt."""
import pytest

from eep_utils.cartpole.teaching import initial_messages, system_prompt
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.chat.running import complete
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.ellm.goals import GoalTemplateStandIn, goal_request, parse_goals, stand_in_goals, voice_in
from eep_utils.personas import PERSONAS, Persona, persona_in, persona_named
from eep_utils.personas_new import MAIN_TEMPLATES, Voice, template_named, voices


def test_newton_is_the_2023_sentence_word_for_word():
    assert PERSONAS["newton"].sentence == "You are Sir Isaac Newton. "
    assert PERSONAS["no_persona"].sentence == ""
    assert list(PERSONAS) == ["newton", "no_persona", "aristotle"]


@pytest.mark.parametrize("key", list(PERSONAS))
def test_the_cartpole_prompt_opens_with_the_personas_sentence(key):
    persona = PERSONAS[key]
    cartpole = system_prompt(key)
    assert cartpole.startswith(persona.sentence)
    assert cartpole.removeprefix(persona.sentence).startswith("Your task is to balance a cartpole.")


@pytest.mark.parametrize("voice", voices(list(PERSONAS), MAIN_TEMPLATES), ids=lambda voice: voice.slug)
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
    assert len(persona.wordings) >= 2 and len(set(persona.wordings)) == len(persona.wordings)
    second = persona.worded(2)
    assert (second.key, second.sentence, second.label) == (key, persona.wordings[1], f"{key} (wording 2)")
    assert persona.label == key and persona.wording == 1
    # The second wording goes wherever a persona goes, and is recognised as the same persona.
    assert system_prompt(second) == second.sentence + system_prompt("no_persona")
    assert initial_messages(second)[1:] == initial_messages(persona)[1:]
    assert persona_in(system_prompt(second)) == second
    assert RuleStandIn(second).rule == RuleStandIn(key).rule


def test_the_goal_stand_in_answers_every_template_and_wording_as_the_persona():
    state = STUDY_2023.state_of_words(("center", "stopped", "rightwards", "right"))
    for voice in voices(list(PERSONAS), MAIN_TEMPLATES):
        answer = complete(GoalTemplateStandIn(), goal_request(voice, STUDY_2023.describe_state(state), 3))
        words = STUDY_2023.words_of_state(state)
        assert parse_goals(answer.text) == stand_in_goals(voice.persona, STUDY_2023, words)[:3]
    with pytest.raises(ValueError, match="knows the personas"):
        complete(GoalTemplateStandIn(), goal_request(Voice("herpetologist", "you-are"), "x", 3))


def test_unknown_personas_and_wordings_are_refused():
    with pytest.raises(ValueError, match="unknown persona 'einstein'"):
        persona_named("einstein")
    with pytest.raises(ValueError, match="wordings 1 to 2"):
        PERSONAS["newton"].worded(3)
    with pytest.raises(ValueError, match="end in a space"):
        Persona("x", "x", ("You are X.",))
    assert persona_named(PERSONAS["aristotle"]) is PERSONAS["aristotle"]
    assert persona_in("Your task is to balance a cartpole.") is None
