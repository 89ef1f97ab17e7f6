"""Captions for ELLM on CartPole: what a transition did, in the words a goal would use.

ELLM (Du et al. 2023) rewards an agent when a caption of its transition is close to a goal an
LLM suggested. Its Crafter captions name the executed action ("you chopped the tree"). A CartPole
push has no object, so our caption names the push and what it did to the pole and the cart:

    "you pushed the cart right, the pole swung back toward upright and the cart moved right,
     away from the center"

The caption is built from three clauses, each chosen by thresholds, so the captioner can list
every caption it can ever write (`vocabulary`): 2 pushes × 11 pole clauses × 9 cart clauses.
That small vocabulary is what makes ELLM cheap here: every caption is embedded once.

The bands default to the 2023 projection's thresholds, so "upright", "stood still" and "the
center" mean what the chatbot's words mean: a pole within 0.01 rad of vertical is upright, a cart
slower than 0.1 m/s stands still, a cart within 0.1 m of the middle is at the center. The state a
goal generator reads is the projection's own description (`Projection.describe`), as in 2023.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eep_utils.cartpole.body import PHYSICS

# CartPole-v1 ends an episode beyond these.
FAILURE_ANGLE = PHYSICS.theta_threshold_radians
TRACK_LIMIT = PHYSICS.x_threshold

SIDES = ("left", "right")
ACTION_CLAUSES = tuple(f"you pushed the cart {side}" for side in SIDES)
POLE_CLAUSES = (
    "the pole stayed upright",
    "the pole swung back to upright",
    "the pole swung back toward upright",
    *(f"the pole started to tip {side}" for side in SIDES),
    *(f"the pole swung over to the {side}" for side in SIDES),
    *(f"the pole tipped further {side}" for side in SIDES),
    *(f"the pole fell over to the {side}" for side in SIDES),
)
CART_CLAUSES = (
    "the cart stood still",
    *(f"the cart moved {side} through the center" for side in SIDES),
    *(f"the cart moved {side}, away from the center" for side in SIDES),
    *(f"the cart moved {side}, back toward the center" for side in SIDES),
    *(f"the cart ran off the {side} end of the track" for side in SIDES),
)


@dataclass(frozen=True)
class TransitionCaptioner:
    """Captions (observation before, push, observation after) transitions, one caption id per row."""

    upright_band: float = 0.01  # rad
    still_speed: float = 0.1  # m/s
    centre_band: float = 0.1  # m

    @property
    def vocabulary(self) -> list[str]:
        """Every caption, indexed by caption id."""
        return [f"{action}, {pole} and {cart}"
                for action in ACTION_CLAUSES for pole in POLE_CLAUSES for cart in CART_CLAUSES]

    def caption_ids(self, before: np.ndarray, actions: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Caption id of each transition: rows of (n, 4) observations and n actions (0 left, 1 right)."""
        before = np.atleast_2d(np.asarray(before, dtype=np.float64))
        after = np.atleast_2d(np.asarray(after, dtype=np.float64))
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        if not (len(before) == len(after) == len(actions)):
            raise ValueError(f"{len(before)} observations before, {len(actions)} actions, {len(after)} after")
        if np.any((actions != 0) & (actions != 1)):
            raise ValueError("actions must be 0 (left) or 1 (right)")
        pole = self._pole_clause(before[:, 2], after[:, 2])
        cart = self._cart_clause(after[:, 0], after[:, 1])
        return (actions * len(POLE_CLAUSES) + pole) * len(CART_CLAUSES) + cart

    def captions(self, before: np.ndarray, actions: np.ndarray, after: np.ndarray) -> list[str]:
        vocabulary = self.vocabulary
        return [vocabulary[i] for i in self.caption_ids(before, actions, after)]

    def _pole_clause(self, angle_before: np.ndarray, angle_after: np.ndarray) -> np.ndarray:
        side = (angle_after > 0).astype(np.int64)  # 0 left, 1 right: where the pole is now
        upright_before = np.abs(angle_before) <= self.upright_band
        upright_after = np.abs(angle_after) <= self.upright_band
        crossed = np.sign(angle_before) != np.sign(angle_after)
        closer = np.abs(angle_after) < np.abs(angle_before)
        # First match wins: a fall is a fall even if the pole was upright two frames before.
        return np.select(
            [np.abs(angle_after) > FAILURE_ANGLE,
             upright_before & upright_after,
             upright_after,
             upright_before,
             crossed,
             closer],
            [9 + side, 0, 1, 3 + side, 5 + side, np.full_like(side, 2)],
            default=7 + side,
        )

    def _cart_clause(self, position: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        moving_side = (velocity > 0).astype(np.int64)
        position_side = (position > 0).astype(np.int64)
        return np.select(
            [np.abs(position) > TRACK_LIMIT,
             np.abs(velocity) <= self.still_speed,
             np.abs(position) <= self.centre_band,
             moving_side == position_side],
            [7 + position_side, 0, 1 + moving_side, 3 + moving_side],
            default=5 + moving_side,
        )
