"""The game of personality's world: procedural animal-like creatures and their captions.

A creature is a body plan (kitten, owl, spider, …) with continuous traits (size, roundness, eye size),
a covering (fur, feathers, scales, …), a colour, visible teeth or not, and its plan's legs. It is
drawn as a small RGB cartoon and described by a caption written from the same traits with varied
wording. The chatbot judges the caption; the student sees only the picture. Creature `i` of seed `s`
is the same creature however many are generated, so a quick build's creatures are a full build's first.

Drawing is vectorised over all creatures of one body plan at once (numpy masks over a pixel grid),
because the chapter draws thousands.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Geometry is written for a 64-pixel canvas and scaled to the requested image size.
UNIT = 64.0
CHUNK = 512  # creatures drawn at once: bounds the (chunk, size, size) masks' memory


@dataclass(frozen=True)
class BodyPlan:
    name: str
    nouns: tuple[str, ...]          # how a caption may call it
    legs: int
    coverings: tuple[str, ...]      # coverings this plan can have
    teeth_rate: float               # chance its teeth or fangs show


BODY_PLANS = {plan.name: plan for plan in (
    BodyPlan("kitten", ("kitten", "kitty"), 4, ("fur",), 0.25),
    BodyPlan("puppy", ("puppy", "pup"), 4, ("fur",), 0.3),
    BodyPlan("rabbit", ("rabbit", "bunny"), 4, ("fur",), 0.2),
    BodyPlan("owl", ("owl", "owlet"), 2, ("feathers",), 0.1),
    BodyPlan("frog", ("frog", "toad"), 4, ("smooth skin", "warty skin"), 0.15),
    BodyPlan("snake", ("snake", "serpent"), 0, ("scales",), 0.5),
    BodyPlan("spider", ("spider",), 8, ("bristles", "shell"), 0.5),
    BodyPlan("fish", ("fish",), 0, ("scales", "smooth skin"), 0.3),
    BodyPlan("bat", ("bat",), 2, ("fur",), 0.5),
    BodyPlan("hedgehog", ("hedgehog", "hedgepig"), 4, ("spines",), 0.2),
)}

PALETTE = {
    "pink": (240, 150, 185), "white": (238, 236, 228), "grey": (140, 140, 148), "brown": (135, 90, 55),
    "black": (38, 36, 42), "orange": (235, 135, 45), "yellow": (232, 208, 70), "green": (80, 165, 75),
    "blue": (75, 125, 210), "purple": (135, 85, 175),
}

# Caption vocabulary. A trait's words depend only on its bin; synonyms vary the wording.
# No phrase of one bin occurs inside a phrase of another (tests check captions by these phrases).
SIZE_WORDS = (("tiny", "wee"), ("small", "little"), ("medium-sized", "middling"), ("large", "big"))
ROUNDNESS_WORDS = (("slender", "elongated"), ("oval", "fairly round"), ("very round", "roly-poly", "ball-shaped"))
EYE_WORDS = (("beady eyes", "pinprick eyes"), ("medium eyes", "ordinary eyes"), ("huge eyes", "enormous eyes", "great shining eyes"))
COVERING_WORDS = {
    "fur": ("soft fur", "fluffy fur", "fuzzy fur"),
    "feathers": ("downy feathers", "soft feathers", "feathers"),
    "scales": ("scales", "shiny scales", "smooth scales"),
    "smooth skin": ("smooth, moist skin", "slimy skin", "slick wet skin"),
    "warty skin": ("warty skin", "bumpy skin"),
    "bristles": ("bristly hairs", "coarse hairs"),
    "shell": ("a glossy hard shell", "a shiny armoured shell"),
    "spines": ("sharp spines", "prickly quills"),
}
LEG_WORDS = {0: ("no legs", "no legs at all"), 2: ("two legs", "a pair of legs"), 4: ("four legs", "four paws"),
             8: ("eight legs", "eight long legs")}
TEETH_WORDS = ("sharp teeth showing", "bared fangs", "pointy teeth on display")
CLOSED_MOUTH_WORDS = ("a closed mouth", "its mouth shut")


def trait_bin(value: float, n_bins: int) -> int:
    """Which of `n_bins` equal bins of [0, 1] a trait falls in."""
    return int(min(n_bins - 1, max(0, np.floor(value * n_bins))))


@dataclass
class Creatures:
    """A set of creatures: their pictures, captions, and (for generated ones) the traits behind both."""

    images: np.ndarray          # (n, size, size, 3) uint8
    captions: list[str]
    traits: pd.DataFrame        # one row per creature; only a generator's creatures have traits
    source: str                 # who made them: the generator and its seed, or the folder

    def __len__(self) -> int:
        return len(self.captions)


def sample_traits(n: int, seed: int) -> pd.DataFrame:
    """Each creature's traits from its own random stream `(seed, index)`, plus drawing nuisances."""
    plans = list(BODY_PLANS.values())
    rows = []
    for index in range(n):
        rng = np.random.default_rng([seed, index])
        plan = plans[rng.integers(len(plans))]
        rows.append({
            "body_plan": plan.name,
            "size": rng.random(),
            "roundness": rng.random(),
            "eye_size": rng.random(),
            "palette": list(PALETTE)[rng.integers(len(PALETTE))],
            "covering": plan.coverings[rng.integers(len(plan.coverings))],
            "teeth": bool(rng.random() < plan.teeth_rate),
            "legs": plan.legs,
            # Not described in the caption: where it stands, the backdrop, its colour's shade, its texture.
            "offset_x": rng.uniform(-4, 4),
            "offset_y": rng.uniform(-3, 3),
            "background": rng.integers(0, 4),
            "shade": rng.uniform(-25, 25),
            "texture_seed": int(rng.integers(2**31)),
            "wording_seed": int(rng.integers(2**31)),
        })
    return pd.DataFrame(rows)


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def write_caption(traits: pd.Series | dict) -> str:
    """One caption from a creature's traits, worded by its own `wording_seed`."""
    rng = np.random.default_rng(traits["wording_seed"])

    def pick(options):
        return options[rng.integers(len(options))]

    noun = pick(BODY_PLANS[traits["body_plan"]].nouns)
    size = pick(SIZE_WORDS[trait_bin(traits["size"], len(SIZE_WORDS))])
    shape = pick(ROUNDNESS_WORDS[trait_bin(traits["roundness"], len(ROUNDNESS_WORDS))])
    eyes = pick(EYE_WORDS[trait_bin(traits["eye_size"], len(EYE_WORDS))])
    covering = pick(COVERING_WORDS[traits["covering"]])
    legs = pick(LEG_WORDS[int(traits["legs"])])
    colour = traits["palette"]
    if traits["teeth"]:
        mouth = pick(TEETH_WORDS)
    else:
        mouth = pick(CLOSED_MOUTH_WORDS) if rng.random() < 0.5 else None

    templates = [
        f"{article(size).capitalize()} {size}, {shape} {colour} {noun} with {eyes}, {covering} and {legs}.",
        f"This {noun} is {size} and {shape}, {colour} all over, with {covering}, {eyes} and {legs}.",
        f"{eyes[0].upper() + eyes[1:]} look out from {article(size)} {size} {colour} {noun}; it is {shape}, has {legs} and {covering}.",
        f"Picture {article(colour)} {colour} {noun}: {size}, {shape}, covered in {covering}, with {legs} and {eyes}.",
    ]
    caption = pick(templates)
    if mouth is not None:
        caption += pick([f" It has {mouth}.", f" Note {mouth}."])
    return caption


# ---------------------------------------------------------------------------------------------
# Drawing. Every shape is a boolean mask over (creatures, rows, columns); parameters are arrays
# with one value per creature, so one call draws a whole batch.


class _Canvas:
    def __init__(self, n: int, size: int):
        coordinates = (np.arange(size, dtype=np.float32) + 0.5) * (UNIT / size)
        self.X = coordinates[None, None, :]
        self.Y = coordinates[None, :, None]
        self.pixels = np.zeros((n, size, size, 3), np.float32)

    def paint(self, mask: np.ndarray, colour: np.ndarray) -> None:
        colour = np.broadcast_to(np.asarray(colour, np.float32), (len(self.pixels), 3))
        np.copyto(self.pixels, colour[:, None, None, :], where=mask[..., None])

    def shade(self, mask: np.ndarray, factor: np.ndarray) -> None:
        np.multiply(self.pixels, factor[..., None], out=self.pixels, where=mask[..., None])

    def ellipse(self, cx, cy, rx, ry, angle=0.0, power=2.0) -> np.ndarray:
        """A (super-)ellipse: power 2 is an ellipse, larger powers are boxier."""
        cx, cy, rx, ry, angle, power = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in (cx, cy, rx, ry, angle, power))
        dx, dy = self.X - cx, self.Y - cy
        if np.any(angle):
            cos, sin = np.cos(angle), np.sin(angle)
            dx, dy = dx * cos + dy * sin, -dx * sin + dy * cos
        u, v = dx / rx, dy / ry
        if np.all(power == 2):  # the common case, without the slow general power
            return u * u + v * v <= 1.0
        return np.abs(u) ** power + np.abs(v) ** power <= 1.0

    def segment(self, x0, y0, x1, y1, width) -> np.ndarray:
        x0, y0, x1, y1, width = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in (x0, y0, x1, y1, width))
        ex, ey = x1 - x0, y1 - y0
        t = np.clip(((self.X - x0) * ex + (self.Y - y0) * ey) / (ex * ex + ey * ey + 1e-6), 0.0, 1.0)
        return (self.X - x0 - t * ex) ** 2 + (self.Y - y0 - t * ey) ** 2 <= width * width

    def triangle(self, ax, ay, bx, by, cx, cy) -> np.ndarray:
        ax, ay, bx, by, cx, cy = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in (ax, ay, bx, by, cx, cy))

        def side(px, py, qx, qy):
            return (self.X - qx) * (py - qy) - (px - qx) * (self.Y - qy)

        d1, d2, d3 = side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
        negative = (d1 < 0) | (d2 < 0) | (d3 < 0)
        positive = (d1 > 0) | (d2 > 0) | (d3 > 0)
        return ~(negative & positive)


BACKGROUNDS = np.array([(205, 225, 240), (225, 235, 205), (240, 225, 205), (215, 210, 225)], np.float32)
OUTLINE = np.array((30, 25, 30), np.float32)
WHITE = np.array((250, 250, 250), np.float32)
PUPIL = np.array((15, 15, 20), np.float32)


def _texture(canvas: _Canvas, body: np.ndarray, coverings: np.ndarray, texture_seeds: np.ndarray) -> None:
    """Brighten and darken the body's colour in a covering's pattern (fur grain, scales, feathers, …)."""
    X, Y = canvas.X, canvas.Y
    noise = np.stack([np.random.default_rng(s).random(body.shape[1:], dtype=np.float32) for s in texture_seeds])
    patterns = {
        "fur": 0.85 + 0.3 * noise,
        "bristles": 0.7 + 0.5 * noise,
        "feathers": np.where(((Y + 2.5 * np.abs(np.sin(X / 2.2))) % 5.0) < 1.3, 0.72, 1.0),
        "scales": np.where(np.sin(X * 1.5) * np.sin(Y * 1.5 + X * 0.4) > 0.45, 0.7, 1.05),
        "smooth skin": 1.0 + 0.35 * np.exp(-((X - 27) ** 2 + (Y - 26) ** 2) / 40.0),
        "warty skin": np.where(noise > 0.93, 0.6, 1.0),
        "shell": 1.0 + 0.45 * np.exp(-((X - 28) ** 2 + (Y - 28) ** 2) / 25.0),
        "spines": 0.9 + 0.2 * noise,
    }
    factor = np.ones(body.shape, np.float32)
    for covering, pattern in patterns.items():
        which = coverings == covering
        if which.any():
            factor[which] = np.broadcast_to(pattern, body.shape)[which]
    canvas.shade(body, factor)


def _eyes(canvas: _Canvas, x_left, x_right, y, radius, both=True) -> None:
    for x in ((x_left, x_right) if both else (x_left,)):
        canvas.paint(canvas.ellipse(x, y, radius + 0.7, radius + 0.7), OUTLINE)
        canvas.paint(canvas.ellipse(x, y, radius, radius), WHITE)
        canvas.paint(canvas.ellipse(x + 0.15 * radius, y + 0.1 * radius, 0.62 * radius, 0.62 * radius), PUPIL)
        canvas.paint(canvas.ellipse(x - 0.2 * radius, y - 0.25 * radius, 0.22 * radius + 0.3, 0.22 * radius + 0.3), WHITE)


def _mouth(canvas: _Canvas, x, y, width, teeth: np.ndarray) -> None:
    canvas.paint(canvas.segment(x - width, y, x + width, y, 0.7), OUTLINE)
    fangs = np.where(teeth, 0.55 * width + 0.8, 0.0)  # no teeth: zero-size triangles
    for side in (-1, 1):
        tip = x + side * 0.45 * width
        canvas.paint(canvas.triangle(tip - fangs * 0.45, y + 0.3, tip + fangs * 0.45, y + 0.3, tip, y + 0.3 + 1.6 * fangs)
                     & teeth[:, None, None], WHITE)


def _draw_plan(plan: str, canvas: _Canvas, t: dict) -> None:
    """Draw every creature of one body plan; `t` holds one array per trait."""
    n = len(t["size"])
    colour = t["colour"]
    dark = colour * 0.6
    light = np.minimum(colour * 1.25 + 40, 255)
    R = 9.0 + 11.0 * t["size"]                   # body half-width in 64-pixel units
    aspect = 0.6 + 0.4 * t["roundness"]          # height / width
    box = 2.0 + 3.0 * (1.0 - t["roundness"])     # squarer when less round
    cx, cy = 32.0 + t["offset_x"], 35.0 + t["offset_y"]
    rx, ry = R, R * aspect
    eye = np.minimum(1.4 + 4.6 * t["eye_size"], 0.42 * R)
    teeth = t["teeth"]

    behind = np.zeros((n, *canvas.pixels.shape[1:3]), bool)
    if plan in ("kitten", "puppy", "rabbit", "frog", "hedgehog"):   # four legs: two feet in front, two peeking
        for dx in (-0.55, -0.2, 0.2, 0.55):
            spread = 1.3 if plan == "frog" else 1.0
            behind |= canvas.ellipse(cx + dx * rx * spread, cy + ry * 0.9, 0.18 * R + 1, 0.14 * R + 1.2)
    if plan in ("owl", "bat"):
        for dx in (-0.3, 0.3):
            behind |= canvas.segment(cx + dx * rx, cy + ry * 0.8, cx + dx * rx, cy + ry + 3.5, 1.1)
    if plan == "spider":
        for side in (-1, 1):
            for k in range(4):
                angle = -0.6 + 0.45 * k
                knee_x = cx + side * (rx + 5) * np.cos(angle) * 1.05
                knee_y = cy - 2 + (ry + 3) * np.sin(angle) - 5
                behind |= canvas.segment(cx, cy, knee_x, knee_y, 1.0)
                behind |= canvas.segment(knee_x, knee_y, knee_x + side * 3.5, knee_y + 9, 0.9)
    if plan == "bat":
        for side in (-1, 1):
            behind |= canvas.triangle(cx, cy - 0.4 * ry, cx + side * (rx + 14), cy - ry - 4, cx + side * (rx + 10), cy + 0.5 * ry)
            behind |= canvas.triangle(cx, cy + 0.2 * ry, cx + side * (rx + 14), cy - ry - 4, cx + side * (rx + 4), cy + 0.9 * ry)
    if plan in ("kitten", "puppy"):
        behind |= canvas.segment(cx + rx * 0.8, cy + ry * 0.3, cx + rx + 6, cy - ry * 0.4, 1.4)
    if plan == "rabbit":
        canvas.paint(canvas.ellipse(cx + rx * 0.95, cy + ry * 0.35, 3.5, 3.5), WHITE)
    canvas.paint(behind, OUTLINE if plan == "spider" else dark)

    # Ears and head parts drawn behind the body.
    if plan == "kitten" or plan == "bat":
        for side in (-1, 1):
            base = cx + side * 0.55 * rx
            ear = canvas.triangle(base - 0.3 * rx, cy - 0.55 * ry, base + 0.3 * rx, cy - 0.55 * ry,
                                  base + side * 0.1 * rx, cy - ry - 0.35 * R - 2)
            canvas.paint(ear, dark)
    if plan == "rabbit":
        for side in (-1, 1):
            canvas.paint(canvas.ellipse(cx + side * 0.35 * rx, cy - ry - 0.45 * R, 0.17 * R + 1, 0.6 * R + 2, side * 0.15), colour)
            canvas.paint(canvas.ellipse(cx + side * 0.35 * rx, cy - ry - 0.45 * R, 0.08 * R + 0.5, 0.45 * R + 1, side * 0.15),
                         np.array(PALETTE["pink"], np.float32))
    if plan == "owl":
        for side in (-1, 1):
            canvas.paint(canvas.triangle(cx + side * 0.35 * rx, cy - 0.7 * ry, cx + side * 0.8 * rx, cy - 0.6 * ry,
                                         cx + side * 0.75 * rx, cy - ry - 4), dark)
    if plan == "hedgehog":
        # Spines: a spiky crown around the upper body, longer than the body's outline.
        angle = np.arctan2(canvas.Y - cy.reshape(-1, 1, 1), canvas.X - cx.reshape(-1, 1, 1))
        radius = np.sqrt(((canvas.X - cx.reshape(-1, 1, 1)) / rx.reshape(-1, 1, 1)) ** 2
                         + ((canvas.Y - cy.reshape(-1, 1, 1)) / ry.reshape(-1, 1, 1)) ** 2)
        spikes = radius <= 1.15 + 0.22 * np.abs(np.sin(angle * 9))
        canvas.paint(spikes & (angle < 0.5), dark * 0.7)
    if plan == "fish":
        canvas.paint(canvas.triangle(cx + rx - 2, cy, cx + rx + 9, cy - 0.8 * ry - 2, cx + rx + 9, cy + 0.8 * ry + 2), dark)
        canvas.paint(canvas.triangle(cx - 0.4 * rx, cy - 0.8 * ry, cx + 0.4 * rx, cy - 0.8 * ry, cx + 0.1 * rx, cy - ry - 5), dark)

    # The body, outlined, in its colour and covering.
    if plan == "snake":
        body = np.zeros_like(behind)
        outline = np.zeros_like(behind)
        thickness = 2.5 + 2.5 * t["size"] + 1.5 * t["roundness"]
        for k in range(9):
            x = cx + rx * (-1.1 + 0.25 * k)
            y = cy + 0.6 * ry * np.sin(k * 0.9)
            outline |= canvas.ellipse(x, y, thickness + 0.8, thickness + 0.8)
            body |= canvas.ellipse(x, y, thickness, thickness)
        head_x, head_y = cx + rx * 1.05, cy + 0.6 * ry * np.sin(8 * 0.9) - 1
        outline |= canvas.ellipse(head_x, head_y, thickness * 1.6 + 0.8, thickness * 1.3 + 0.8)
        body |= canvas.ellipse(head_x, head_y, thickness * 1.6, thickness * 1.3)
        canvas.paint(canvas.segment(head_x + thickness * 1.5, head_y, head_x + thickness * 1.5 + 4, head_y + 1, 0.5),
                     np.array((200, 30, 40), np.float32))
    else:
        height = ry * (0.55 if plan == "fish" else 1.0) * (0.8 if plan == "frog" else 1.0)
        outline = canvas.ellipse(cx, cy, rx + 0.9, height + 0.9, power=box)
        body = canvas.ellipse(cx, cy, rx, height, power=box)
    canvas.paint(outline, OUTLINE)
    canvas.paint(body, colour)
    _texture(canvas, body, t["covering"], t["texture_seed"])

    # Face.
    if plan == "snake":
        _eyes(canvas, head_x - 0.4 * thickness, head_x + 0.6 * thickness, head_y - 0.5 * thickness,
              np.minimum(eye * 0.6, thickness * 0.55))
        _mouth(canvas, head_x + 0.2 * thickness, head_y + 0.6 * thickness, 0.5 * thickness + 1, teeth)
        return
    if plan == "fish":
        _eyes(canvas, cx - 0.5 * rx, None, cy - 0.15 * ry, np.minimum(eye, 0.3 * ry + 1), both=False)
        _mouth(canvas, cx - 0.85 * rx, cy + 0.12 * ry, 1.5, teeth)
        return
    eye_y = cy - (0.75 * ry if plan == "frog" else 0.25 * ry)
    gap = np.maximum(0.42 * rx, eye + 1.0)
    if plan == "frog":
        for side in (-1, 1):
            canvas.paint(canvas.ellipse(cx + side * gap, eye_y, eye + 2, eye + 2), colour)
    if plan == "owl":
        for side in (-1, 1):
            canvas.paint(canvas.ellipse(cx + side * gap, eye_y, eye + 2.5, eye + 2.5), light)
    if plan == "spider":
        for side in (-1, 1):
            canvas.paint(canvas.ellipse(cx + side * (gap + eye + 1.5), eye_y - 1, 1.0, 1.0), PUPIL)
    _eyes(canvas, cx - gap, cx + gap, eye_y, eye)
    mouth_y = cy + (0.1 if plan == "frog" else 0.35) * ry
    if plan == "owl":
        canvas.paint(canvas.triangle(cx - 2, eye_y + 1, cx + 2, eye_y + 1, cx, eye_y + 5), np.array((240, 170, 40), np.float32))
    if plan == "puppy":
        canvas.paint(canvas.ellipse(cx, mouth_y - 1.5, 0.35 * rx, 0.22 * ry, power=2.0), light)
        canvas.paint(canvas.ellipse(cx, mouth_y - 3, 1.8, 1.3), PUPIL)
        for side in (-1, 1):
            canvas.paint(canvas.ellipse(cx + side * 0.95 * rx, cy - 0.35 * ry, 0.22 * R + 1, 0.45 * R + 1, side * -0.3), dark)
    if plan in ("kitten", "rabbit", "hedgehog"):
        canvas.paint(canvas.triangle(cx - 1.3, mouth_y - 3, cx + 1.3, mouth_y - 3, cx, mouth_y - 1.5),
                     np.array(PALETTE["pink"], np.float32) * (0.8 if plan == "hedgehog" else 1.0))
    if plan == "kitten":
        for side in (-1, 1):
            for dy in (-1.2, 0.5):
                canvas.paint(canvas.segment(cx + side * 3, mouth_y - 2 + dy, cx + side * (rx * 0.7 + 6), mouth_y - 3 + 2 * dy, 0.35),
                             OUTLINE)
    width = (0.35 if plan == "frog" else 0.15) * rx + 1.0
    _mouth(canvas, cx, mouth_y, width, teeth)


def render_creatures(traits: pd.DataFrame, image_size: int = 64) -> np.ndarray:
    """Pictures of the creatures described by `traits` (rows of `sample_traits`): (n, size, size, 3) uint8."""
    images = np.empty((len(traits), image_size, image_size, 3), np.uint8)
    for start in range(0, len(traits), CHUNK):
        chunk = traits.iloc[start:start + CHUNK]
        for plan in BODY_PLANS:
            rows = np.flatnonzero(chunk["body_plan"].to_numpy() == plan)
            if len(rows) == 0:
                continue
            part = chunk.iloc[rows]
            canvas = _Canvas(len(rows), image_size)
            gradient = 1.0 - 0.12 * (canvas.Y / UNIT)[..., None]
            canvas.pixels[:] = BACKGROUNDS[part["background"].to_numpy()][:, None, None, :] * gradient
            t = {name: part[name].to_numpy() for name in ("size", "roundness", "eye_size", "offset_x", "offset_y",
                                                          "covering", "texture_seed")}
            t["teeth"] = part["teeth"].to_numpy(bool)
            t["colour"] = np.clip(np.array([PALETTE[p] for p in part["palette"]], np.float32)
                                  + part["shade"].to_numpy(np.float32)[:, None], 0, 255)
            _draw_plan(plan, canvas, t)
            images[start + rows] = np.clip(canvas.pixels, 0, 255).astype(np.uint8)
    return images


def generate_creatures(n: int, seed: int, image_size: int = 64) -> Creatures:
    """`n` creatures: traits from `seed`, pictures drawn from the traits, captions written from them."""
    traits = sample_traits(n, seed)
    captions = [write_caption(row) for row in traits.to_dict("records")]
    return Creatures(render_creatures(traits, image_size), captions, traits,
                     source=f"procedural creatures (seed {seed})")
