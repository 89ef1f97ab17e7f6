import pytest

from eep_utils.book.config import ConfigError, load_plan


def write(tmp_path, text, notebooks=("01_a",)):
    for name in notebooks:
        (tmp_path / f"{name}.md").write_text("# a notebook\n")
    path = tmp_path / "parameters.yaml"
    path.write_text(text)
    return path


def test_plan_merges_common_and_mode_in_file_order(tmp_path):
    path = write(tmp_path, "notebooks:\n  01_a: {common: {seed: 1, n: 5}, quick: {n: 2}, full: {n: 50}}\n"
                           "  00_b: {common: {}, quick: {quick: true}}\n", ("01_a", "00_b"))
    quick = load_plan("quick", path)
    assert [p.name for p in quick] == ["01_a", "00_b"]
    assert quick[0].parameters == {"seed": 1, "n": 2}
    assert load_plan("full", path)[0].parameters == {"seed": 1, "n": 50}


@pytest.mark.parametrize("text, message", [
    ("notebooks: [\n", "not valid YAML"),
    ("chapters: {}\n", "top-level mapping `notebooks:`"),
    ("notebooks:\n  01_a: {quik: {}}\n", "unknown keys ['quik']"),
    ("notebooks:\n  01_a: {common: [1, 2]}\n", "must be a mapping of parameter"),
    ("notebooks:\n  02_missing: {}\n", "does not exist"),
])
def test_malformed_parameter_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ConfigError, match="parameters.yaml") as error:
        load_plan("quick", write(tmp_path, text))
    assert message in str(error.value)


def test_unknown_mode_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="mode must be one of"):
        load_plan("medium")
    with pytest.raises(ConfigError, match="git checkout"):
        load_plan("quick", tmp_path / "absent.yaml")
