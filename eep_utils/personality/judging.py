"""How a judge is asked about a creature, and how its answer is read: the way the model answers.

The system message is the judge's voice (`eep_utils.personas.Voice`): the template's introduction of
the persona's identity, the persona's taste in two lines ("You find cute: …", "You do not find cute: …";
the neutral control has none) and the template's instruction. The user message asks the question about
one caption. Every judge has a system message, the control included, so no chat template slips in a
default one of its own.

Reading the answer: a small model answers "No" or " yes" as readily as "no", and a hosted one "Yes.",
"No —" or a JSON object; a verdict read in one casing or form measures that, not taste. So the grammar
(for a server that honours one, such as llama.cpp) admits every casing of yes and no with or without a
leading space, every form is read (`read_verdict`), and the soft label P(cute) pools the probability of
every token that spells yes against every token that spells no, at the position where the answer is given. The probability those tokens hold together, the *answer mass*, says whether the judge
is answering the question at all: a judge whose mass is small is mostly saying something else.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd

from eep_utils.chat.parsing import parse_judgment
from eep_utils.chat.running import complete_all
from eep_utils.chat.types import ChatAnswer, ChatRequest, Teacher
from eep_utils.personas import DISLIKES_LABEL, LIKES_LABEL, Voice, template_named

TASK = "Is this creature cute? Read its caption and answer yes or no."
CAPTION_LABEL = "Caption:"
YES, NO = "yes", "no"
SPELLINGS = tuple(f"{space}{word}" for word in (YES, NO) for word in (word, word.capitalize(), word.upper())
                  for space in ("", " "))
VERDICT_GRAMMAR = 'root ::= " "? ("yes" | "Yes" | "YES" | "no" | "No" | "NO")'  # GBNF
TOP_LOGPROBS = 20  # the most the chat completions API gives
FEW_SHOT_EXAMPLES = 2  # of each verdict, in the few-shot voice


def one_line(caption: str) -> str:
    """The caption as the prompt carries it: on its one "Caption:" line."""
    return " ".join(caption.split())


def question(caption: str) -> str:
    return f"{TASK}\n{CAPTION_LABEL} {one_line(caption)}"


def system_message(voice: Voice) -> str:
    """The judge's system message: introduction, taste (none for the control) and instruction."""
    template = template_named("you-are" if voice.template == "few-shot" else voice.template)
    persona = voice.of()
    lines = [template.introduce(persona, voice.wording)]
    if persona.has_taste:
        likes, dislikes = persona.taste(voice.wording)
        lines += [f"{LIKES_LABEL} {', '.join(likes)}", f"{DISLIKES_LABEL} {', '.join(dislikes)}"]
    return "\n".join([*lines, template.instruction])


def few_shot_turns(voice: Voice) -> list[dict]:
    """Judged examples that show the persona's taste: creatures with a liked feature answered yes, with a
    disliked one no (the control, which has no taste, gets none)."""
    persona = voice.of()
    if not persona.has_taste:
        return []
    likes, dislikes = persona.taste(voice.wording)
    examples = [(f"A creature with {feature}.", verdict)
                for pair in zip(likes[:FEW_SHOT_EXAMPLES], dislikes[:FEW_SHOT_EXAMPLES])
                for feature, verdict in zip(pair, (YES, NO))]
    turns = []
    for caption, verdict in examples:
        turns += [{"role": "user", "content": question(caption)}, {"role": "assistant", "content": verdict}]
    return turns


def judgment_request(voice: Voice, caption: str, constrained: bool = True) -> ChatRequest:
    """The prompt for one caption: temperature 0, a short answer with its log-probabilities and, when
    `constrained`, a grammar that admits only yes or no, in any casing, with or without a leading space."""
    messages = [{"role": "system", "content": system_message(voice)}]
    if voice.template == "few-shot":
        messages += few_shot_turns(voice)
    messages.append({"role": "user", "content": question(caption)})
    return ChatRequest.from_messages(messages, temperature=0.0, max_tokens=2, logprobs=True,
                                     top_logprobs=TOP_LOGPROBS, grammar=VERDICT_GRAMMAR if constrained else None)


def spelled(token: str, json_verdict: bool = False) -> str | None:
    """"yes" or "no" when the token spells one (any casing, surrounding spaces or punctuation), else None;
    with `json_verdict`, "true" and "false" too (the value of a JSON answer's "cute")."""
    word = token.strip().strip(".,!:;\"'`*()[]{}").lower()
    if json_verdict:
        word = {"true": YES, "false": NO}.get(word, word)
    return word if word in (YES, NO) else None


@dataclass(frozen=True)
class Verdict:
    """One judgment as read: the verdict the text gives, P(cute) and the answer mass where it was given."""

    cute: float  # 1.0 yes, 0.0 no, NaN when the answer gives neither
    p_cute: float  # P(yes) / (P(yes) + P(no)) over every spelling; NaN without log-probabilities there
    mass: float  # P(yes) + P(no) over every spelling at that position; NaN without log-probabilities

    @property
    def readable(self) -> bool:
        return not math.isnan(self.cute)


def read_verdict(answer: ChatAnswer) -> Verdict:
    """The verdict of an answer, read the way the model answers (see the module docstring), whether a
    small model under a grammar or a hosted one that answers freely.

    The verdict: an answer opening with yes or no ("yes", " No", "YES", "Yes.", "Yes, it is cute",
    "No —"), a JSON object's `cute` (`{"cute": true, "score": 8}`), "Cute: yes", or one yes or no named
    in prose (`chat.parsing.parse_judgment`). P(cute) and the mass are read at the first answer token
    that spells yes or no (in a JSON answer, true or false), from its alternatives, the chosen token
    included; NaN when the endpoint gave no log-probabilities, or gave the chosen token without its
    alternatives (nothing to weigh it against)."""
    judgment = parse_judgment(answer.text)
    cute = math.nan if judgment.cute is None else float(judgment.cute)
    json_verdict = "{" in (answer.text or "")
    for position in answer.logprobs or []:
        if spelled(position["token"], json_verdict) is None:
            continue
        if not position.get("top_logprobs"):
            break
        alternatives = {alt["token"]: alt["logprob"] for alt in position["top_logprobs"]}
        alternatives.setdefault(position["token"], position["logprob"])
        mass = {YES: 0.0, NO: 0.0}
        for token, logprob in alternatives.items():
            word = spelled(token, json_verdict)
            if word is not None:
                mass[word] += math.exp(logprob)
        total = mass[YES] + mass[NO]
        return Verdict(cute, mass[YES] / total, total)
    return Verdict(cute, math.nan, math.nan)


# The offline stand-in judge (`personality.judge`) has no taste of its own: it scores a caption against the
# likes and dislikes lines of the system message, which the neutral control does not have. For the stand-in
# alone the control's system message gets these generic anchors; that is our choice for the stand-in, not a
# habit of any chatbot, and a chatbot is always asked the control's own message.
GENERIC_LIKES = ("a cute, adorable animal", "a sweet, cuddly little creature")
GENERIC_DISLIKES = ("an ugly, scary animal", "a creepy, unpleasant creature")


def request_for(judge: Teacher, voice: Voice, caption: str, constrained: bool = True) -> ChatRequest:
    """`judgment_request`, except that an offline stand-in judging the tasteless control reads generic anchors."""
    request = judgment_request(voice, caption, constrained)
    if judge.is_chatbot or voice.of().has_taste:
        return request
    anchors = f"{LIKES_LABEL} {', '.join(GENERIC_LIKES)}\n{DISLIKES_LABEL} {', '.join(GENERIC_DISLIKES)}"
    (_, system), *rest = request.messages
    introduction, _, instruction = system.rpartition("\n")
    return replace(request, messages=(("system", f"{introduction}\n{anchors}\n{instruction}"), *rest))


def judge_captions(judge: Teacher, voice: Voice, captions: Sequence[str], max_in_flight: int = 8,
                   constrained: bool = True) -> pd.DataFrame:
    """Ask `judge`, as `voice`, about every caption, concurrently; one row per caption, answers kept verbatim.

    Columns: cute (1.0 yes, 0.0 no, NaN when the answer gives neither), p_cute (`read_verdict`), mass
    (the answer mass, NaN without log-probabilities), answer (the text as received). An answer without
    log-probabilities that gives a 0–10 score (the offline stand-in's `{"cute": true, "score": 7}`) has its
    score / 10 stand in for P(cute)."""
    requests = [request_for(judge, voice, caption, constrained) for caption in captions]
    # The stand-in embeds each caption on its own request; embedding them all in one batch first fills its
    # cache (the same vectors) and makes judging about a hundred times faster.
    encoder = None if judge.is_chatbot else getattr(judge, "encoder", None)
    if encoder is not None:
        encoder.encode([one_line(caption) for caption in captions])
    rows = []
    for answer in complete_all(judge, requests, max_in_flight):
        verdict = read_verdict(answer)
        p_cute = verdict.p_cute
        if math.isnan(p_cute):  # no log-probabilities: a 0–10 score (the stand-in's) stands in, if there is one
            score = parse_judgment(answer.text).score
            p_cute = math.nan if score is None else score / 10
        rows.append({"cute": verdict.cute, "p_cute": p_cute, "mass": verdict.mass, "answer": answer.text})
    return pd.DataFrame(rows, columns=["cute", "p_cute", "mass", "answer"])
