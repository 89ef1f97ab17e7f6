"""A chatbot whose answers a chapter cannot read: its claims are not testable, said with a count and examples."""
from eep_utils.experiments.base import MIN_USABLE_SHARE, NOT_TESTABLE, Usability, untestable_result


def test_usability_counts_and_quotes_the_unusable_answers_once_each():
    answers = ['{"cute": true}', "Yes.", '{"cute": true}', "I cannot judge pictures I cannot see, sorry about that"]
    usability = Usability.of("cuteness judgments", answers, [False, True, False, False])
    assert (usability.usable, usability.answers) == (1, 4) and not usability.sufficient
    assert usability.unusable_examples == ('{"cute": true}', answers[3])
    statement = usability.statement()
    assert statement.startswith("Only 1 of this chatbot's 4 cuteness judgments could be read (25%)")
    assert "“I cannot judge pictures I cannot see, s…”" in statement and f"{MIN_USABLE_SHARE:.0%}" in statement


def test_enough_usable_answers_suffice_and_none_never_does():
    assert Usability.of("decisions", ["left", "x"], [True, False]).sufficient
    assert not Usability.of("decisions", [], []).sufficient


def test_an_untestable_result_makes_every_claim_not_testable_with_the_reason():
    usability = Usability.of("goal lists", ["", ""], [False, False])
    result = untestable_result("05_ellm_rewards", ["A claim", "Another"], usability, "useless-model")
    assert [c.status for c in result.claims] == [NOT_TESTABLE, NOT_TESTABLE]
    assert all(c.evidence == usability.statement() and c.teacher == "useless-model" for c in result.claims)
    assert result.key_result.startswith("**Not testable with useless-model.**") and result.chatbot == "useless-model"
