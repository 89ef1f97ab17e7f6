"""The creature generator: determinism, captions that say what the traits are, pictures that show them."""
import re

import numpy as np
import pytest
from PIL import Image

from eep_utils.personality.creatures import (BODY_PLANS, CLOSED_MOUTH_WORDS, COVERING_WORDS, EYE_WORDS, LEG_WORDS, PALETTE,
                                             ROUNDNESS_WORDS, SIZE_WORDS, TEETH_WORDS, generate_creatures, render_creatures,
                                             sample_traits, trait_bin, write_caption)
from eep_utils.personality.photos import ImageFolderError, load_image_folder


@pytest.fixture(scope="module")
def creatures():
    return generate_creatures(300, seed=7)


def test_same_seed_same_creatures(creatures):
    again = generate_creatures(300, seed=7)
    assert np.array_equal(again.images, creatures.images)
    assert again.captions == creatures.captions


def test_creature_does_not_depend_on_how_many_are_generated(creatures):
    first = generate_creatures(40, seed=7)
    assert np.array_equal(first.images, creatures.images[:40])
    assert first.captions == creatures.captions[:40]


def test_another_seed_gives_other_creatures(creatures):
    other = generate_creatures(300, seed=8)
    assert other.captions != creatures.captions
    assert not np.array_equal(other.images, creatures.images)


def test_pictures_are_small_rgb_and_all_plans_occur(creatures):
    assert creatures.images.shape == (300, 64, 64, 3) and creatures.images.dtype == np.uint8
    assert len(BODY_PLANS) >= 8
    assert set(creatures.traits["body_plan"]) == set(BODY_PLANS)
    # Every picture has a creature on it: far from a flat background.
    assert (creatures.images.reshape(300, -1, 3).std(axis=1).mean(axis=1) > 10).all()
    assert render_creatures(creatures.traits.head(5), image_size=48).shape == (5, 48, 48, 3)


def _bin_phrases_found(caption: str, bins) -> set[int]:
    return {b for b, phrases in enumerate(bins) for p in phrases if re.search(rf"\b{re.escape(p)}\b", caption, re.I)}


def test_captions_state_each_trait_and_no_other(creatures):
    for caption, traits in zip(creatures.captions, creatures.traits.to_dict("records")):
        assert _bin_phrases_found(caption, SIZE_WORDS) == {trait_bin(traits["size"], len(SIZE_WORDS))}, caption
        assert _bin_phrases_found(caption, ROUNDNESS_WORDS) == {trait_bin(traits["roundness"], len(ROUNDNESS_WORDS))}, caption
        assert _bin_phrases_found(caption, EYE_WORDS) == {trait_bin(traits["eye_size"], len(EYE_WORDS))}, caption
        coverings = list(COVERING_WORDS)
        assert _bin_phrases_found(caption, list(COVERING_WORDS.values())) == {coverings.index(traits["covering"])}, caption
        legs = list(LEG_WORDS)
        assert _bin_phrases_found(caption, list(LEG_WORDS.values())) == {legs.index(traits["legs"])}, caption
        colours = [name for name in PALETTE if re.search(rf"\b{name}\b", caption)]
        assert colours == [traits["palette"]], caption
        nouns = [plan for plan, body in BODY_PLANS.items() if any(re.search(rf"\b{n}\b", caption, re.I) for n in body.nouns)]
        assert nouns == [traits["body_plan"]], caption
        shows_teeth = any(p in caption for p in TEETH_WORDS)
        assert shows_teeth == traits["teeth"], caption
        if traits["teeth"]:
            assert not any(p in caption for p in CLOSED_MOUTH_WORDS), caption


def test_wording_varies_for_the_same_traits(creatures):
    traits = creatures.traits.iloc[0].to_dict()
    captions = {write_caption({**traits, "wording_seed": s}) for s in range(30)}
    assert len(captions) >= 5


def test_legs_follow_the_body_plan(creatures):
    for plan, legs in creatures.traits.groupby("body_plan")["legs"]:
        assert set(legs) == {BODY_PLANS[plan].legs}


def _one_creature(**changes):
    traits = sample_traits(40, seed=3)
    kitten = traits[traits["body_plan"] == "kitten"].iloc[[0]].copy()
    for name, value in changes.items():
        kitten[name] = value
    return render_creatures(kitten)[0].astype(int)


def test_pictures_show_the_traits():
    # Teeth add white pixels below the mouth; bigger eyes add white and black pixels; a bigger body covers more.
    def white(image):
        return int((image.min(axis=-1) > 235).sum())

    assert white(_one_creature(teeth=True)) > white(_one_creature(teeth=False))
    assert white(_one_creature(eye_size=1.0)) > white(_one_creature(eye_size=0.0)) + 20
    def covered(image):
        background = image[:, :1]  # the backdrop's colour in each row (it shades from top to bottom)
        return int((np.abs(image - background).sum(axis=-1) > 30).sum())
    assert covered(_one_creature(size=1.0)) > 1.5 * covered(_one_creature(size=0.0))
    assert not np.array_equal(_one_creature(palette="pink"), _one_creature(palette="green"))


def _write_folder(tmp_path, rows, header="file,caption"):
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        Image.new("RGB", (80, 50), colour).save(tmp_path / f"animal{i}.png")
    (tmp_path / "captions.csv").write_text("\n".join([header, *rows]) + "\n")


def test_image_folder_loads_and_crops(tmp_path):
    _write_folder(tmp_path, ["animal0.png,a red square creature", 'animal1.png,"a blue one, very round"'])
    real = load_image_folder(tmp_path, image_size=32)
    assert real.images.shape == (2, 32, 32, 3)
    assert real.captions == ["a red square creature", "a blue one, very round"]
    assert tuple(real.images[0, 16, 16]) == (255, 0, 0) and tuple(real.images[1, 0, 0]) == (0, 0, 255)
    assert "image folder" in real.source


@pytest.mark.parametrize("rows, header, message", [
    (["animal0.png,red"], "name,text", "header"),
    (["missing.png,red"], "file,caption", "does not exist"),
    (["animal0.png,"], "file,caption", "filled in"),
    (["broken.png,red"], "file,caption", "not a readable image"),
    ([], "file,caption", "no images"),
])
def test_image_folder_errors_say_what_to_fix(tmp_path, rows, header, message):
    _write_folder(tmp_path, rows, header)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ImageFolderError, match=message):
        load_image_folder(tmp_path)


def test_image_folder_without_captions_file(tmp_path):
    with pytest.raises(ImageFolderError, match="captions.csv is missing"):
        load_image_folder(tmp_path)
