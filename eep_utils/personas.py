"""The book's personas, the one registry: who the chatbot is asked to be, in two wordings, in every template.

A prompt that asks a chatbot to be someone has three parts that a reviewer must be able to vary one at a
time, so the book keeps them apart:

- the **persona**: who (an identity) and, for the game of personality, a taste (what it finds cute and
  what it does not). The control persona, `no_persona`, is an explicit neutral assistant: every model
  gets the same neutral system message, written in the text, never a chat template's hidden default;
- the **wording** (1 or 2): the same persona said in other words (synonyms, another order); nothing is
  added or taken away;
- the **template**: the frame the persona is put in ("You are …" or "Imagine that you are …", and the
  instruction that closes a judge's system message), the same for every persona.

Every persona is asked in every template and both wordings, so a persona's effect (persona against
persona) and a wording's effect (a persona against itself reworded) are estimated within one template
and then pooled: a control differs from its treatment in one thing only.

Newton's identity in wording 1 and the template "you-are" is the 2023 study's sentence, word for word.
"""
from __future__ import annotations

from dataclasses import dataclass

WORDINGS = (1, 2)


@dataclass(frozen=True)
class Persona:
    """Who the chatbot is asked to be, in each wording: an identity and, for judges, a taste."""

    key: str  # as named in notebooks/parameters.yaml
    name: str  # for tables and figures
    identities: tuple[str, str]  # "Sir Isaac Newton": goes after "You are " or "Imagine that you are "
    likes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    dislikes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    is_control: bool = False

    def __post_init__(self):
        wordings_with_taste = [bool(likes) and bool(dislikes) for likes, dislikes in zip(self.likes, self.dislikes)]
        if any(wordings_with_taste) and not all(wordings_with_taste):
            raise ValueError(f"persona {self.key!r}: a judging persona has likes and dislikes in both wordings")
        if self.is_control and any(wordings_with_taste):
            raise ValueError(f"persona {self.key!r}: the control has no taste")

    @property
    def has_taste(self) -> bool:
        return bool(self.likes[0])

    def identity(self, wording: int) -> str:
        return self.identities[_index(wording)]

    def taste(self, wording: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.likes[_index(wording)], self.dislikes[_index(wording)]


def _index(wording: int) -> int:
    if wording not in WORDINGS:
        raise ValueError(f"a persona has wordings {WORDINGS}, not {wording!r}")
    return wording - 1


@dataclass(frozen=True)
class Template:
    """The frame every persona is put in: how its identity is introduced and how a judge is instructed."""

    key: str
    introduction: str  # "{identity}" is replaced by the persona's identity
    instruction: str  # a judge's system message ends with it
    purpose: str  # why the book asks it, for the chapter's table of templates

    def introduce(self, persona: Persona, wording: int) -> str:
        return self.introduction.format(identity=persona.identity(wording))


# The likes and dislikes lines are the same in every template: the stand-in judge reads them, and a
# template changes only the frame around the persona.
LIKES_LABEL, DISLIKES_LABEL = "You find cute:", "You do not find cute:"

TEMPLATES = {template.key: template for template in (
    Template("you-are", "You are {identity}.",
             "Judge every creature by your own taste, not by what most people would say.",
             "the 2023 study's frame"),
    Template("imagine", "Imagine that you are {identity}.",
             "Give your own opinion of each creature, not the popular one.",
             "the same request in another frame"),
    # Tried in search of the strongest persona this model holds (chapter 06): a taste stated as a rule.
    Template("outright", "You are {identity}.",
             "You find a creature cute only if it has something you find cute and nothing you do not; "
             "answer yes for those and no for every other creature.",
             "the taste stated outright, as a rule"),
)}
# The templates of the main design (every persona, both wordings); the rest are tried only in the search.
MAIN_TEMPLATES = ("you-are", "imagine")
SEARCH_TEMPLATES = ("outright", "few-shot")  # few-shot: "you-are" with judged examples (personality.judging)

NEUTRAL = Persona("no_persona", "no persona (a neutral assistant)", ("a helpful assistant", "an AI assistant"),
                  is_control=True)

PERSONAS = {persona.key: persona for persona in (
    Persona("newton", "Sir Isaac Newton",
            ("Sir Isaac Newton",  # the 2023 study's persona, word for word
             "Isaac Newton, the natural philosopher of Cambridge"),
            likes=(("owls", "soft feathers", "great shining eyes", "neat oval shapes", "white and grey colours",
                    "small tidy creatures"),
                   ("small neat animals", "owls", "large bright eyes", "downy feathers", "tidy oval forms",
                    "grey and white colouring")),
            dislikes=(("slimy skin", "bared fangs", "bristly hairs", "snakes", "garish orange and pink colours"),
                      ("snakes", "fangs on show", "slimy skin", "bristly hair", "loud orange and pink colouring"))),
    NEUTRAL,
    # Pre-Newtonian motion, no inertia: his common sense about a falling pole should differ (CartPole only).
    Persona("aristotle", "Aristotle",
            ("Aristotle, who teaches that a body moves only while something pushes it and comes to rest as "
             "soon as the push stops",
             "Aristotle, who holds that a body moves only while something pushes it, and that heavy things "
             "seek their natural place at rest on the ground")),
    Persona("five_year_old", "a five-year-old",
            ("a five-year-old child who loves fluffy, round, soft things",
             "a small child of five who adores anything soft, round and fluffy"),
            likes=(("kittens", "puppies", "bunnies", "fluffy fur", "very round roly-poly bodies", "huge eyes",
                    "pink colour"),
                   ("puppies", "kittens", "bunny rabbits", "big eyes", "fluffy fur", "chubby round bodies", "pink")),
            dislikes=(("sharp teeth", "fangs", "spiders", "snakes", "scales", "slimy skin", "prickly spines"),
                      ("spiders", "fangs", "sharp teeth", "snakes", "slime", "scaly skin", "spikes"))),
    Persona("herpetologist", "a herpetologist",
            ("a herpetologist who has spent thirty years studying reptiles and amphibians",
             "a scientist of reptiles and amphibians with thirty years in the field"),
            likes=(("snakes", "frogs and toads", "scales", "smooth moist skin", "warty skin",
                    "green and brown colours", "slender bodies with no legs"),
                   ("frogs and toads", "snakes", "scaly skin", "bumpy warty skin", "moist smooth skin",
                    "long legless bodies", "green and brown")),
            dislikes=(("fur", "feathers", "fluffy mammals", "kittens", "puppies"),
                      ("feathers", "fur", "kittens", "fluffy mammals", "puppies"))),
    Persona("spider_and_bat_fan", "a spider-and-bat fan",
            ("a naturalist who finds spiders and bats adorable",
             "a nature lover who thinks bats and spiders are adorable"),
            likes=(("spiders", "bats", "eight legs", "bristly hairs", "fangs", "black and purple colours",
                    "glossy hard shells"),
                   ("bats", "spiders", "fangs", "eight legs", "bristly hair", "shiny hard shells",
                    "black and purple")),
            dislikes=(("kittens", "puppies", "bunnies", "pink colour", "fluffy round toys"),
                      ("puppies", "kittens", "pink", "bunnies", "round fluffy toys"))),
    Persona("aquarist", "an aquarist",
            ("an aquarist who keeps tropical fish",
             "someone whose passion is keeping tropical fish in aquariums"),
            likes=(("fish", "shiny scales", "bright blue colour", "bright orange and yellow colours", "fins",
                    "sleek oval bodies"),
                   ("fins", "fish", "smooth oval bodies", "glittering scales", "vivid blue",
                    "vivid orange and yellow")),
            dislikes=(("fur", "legs", "spiders", "hairy creatures", "dull grey and brown colours"),
                      ("legs", "fur", "hairy animals", "spiders", "drab grey and brown"))),
)}
# Who drives CartPole and suggests its goals (chapters 02, 04, 05): the two views of motion and the control
# (the offline stand-ins have a rule for each). Who judges creatures (chapter 06): the personas with a
# taste, and the control.
CARTPOLE_PERSONAS = ("newton", "no_persona", "aristotle")
JUDGE_PERSONAS = tuple(key for key, persona in PERSONAS.items() if persona.has_taste or persona.is_control)


def persona_named(key: str) -> Persona:
    try:
        return PERSONAS[key]
    except KeyError:
        raise ValueError(f"unknown persona {key!r}; known: {', '.join(PERSONAS)}") from None


def template_named(key: str) -> Template:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise ValueError(f"unknown template {key!r}; known: {', '.join(TEMPLATES)}") from None


@dataclass(frozen=True, order=True)
class Voice:
    """One persona in one template and one wording: what one teacher or judge is asked to be."""

    persona: str  # a key of PERSONAS
    template: str  # a key of TEMPLATES, or "few-shot"
    wording: int = 1

    def __post_init__(self):
        persona_named(self.persona)
        _index(self.wording)
        if self.template != "few-shot":
            template_named(self.template)

    @property
    def label(self) -> str:
        """e.g. "newton · you-are · w2": unique among the voices, for tables and file names."""
        return f"{self.persona} · {self.template} · w{self.wording}"

    @property
    def slug(self) -> str:
        return f"{self.persona}-{self.template}-w{self.wording}"

    def of(self) -> Persona:
        return persona_named(self.persona)


def voices(personas, templates=MAIN_TEMPLATES, wordings=WORDINGS) -> list[Voice]:
    """Every persona in every template and wording, in that order."""
    return [Voice(p, t, w) for t in templates for p in personas for w in wordings]
