"""The introduction's material: tables, abstract, main claims, headline figure."""


import matplotlib
import numpy as np
import pandas as pd
import pytest


from eep_utils.book import abstract
from eep_utils.book.abstract import INDEX_MEANING, readable
from eep_utils.book.config import load_plan
from eep_utils.book.report import load_details, load_table, save_results, save_table
from eep_utils.experiments.base import ChapterResult

matplotlib.use("Agg")

CHATBOT = "SmolLM2-135M-Instruct-Q4_1 (llama.cpp, local)"


def test_a_table_keeps_its_values_and_the_names_of_its_rows_and_columns(tmp_path):
    frame = pd.DataFrame(
        [[0.9, np.nan], [0.4, 0.7]],
        index=pd.Index(["newton", "child"], name="student"),
        columns=pd.Index(["newton", "child"], name="teacher"),
    )
    path = save_table(tmp_path, "06_persona_matrix", frame)
    assert path == tmp_path / "results" / "06_persona_matrix.parquet"
    loaded = load_table(tmp_path, "06_persona_matrix")
    pd.testing.assert_frame_equal(loaded, frame)
    assert (loaded.index.name, loaded.columns.name) == ("student", "teacher")


def test_a_missing_table_names_the_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="06_persona_matrix"):
        load_table(tmp_path, "06_persona_matrix")




def test_the_result_chapters_run_in_this_order_before_the_introduction_and_appendix():
    for mode in ("quick", "full"):
        order = [plan.name for plan in load_plan(mode)]
        positions = [order.index(chapter) for chapter in abstract.RESULT_CHAPTERS]
        assert positions == sorted(positions)
        assert (
            max(positions) < order.index("08_appendix") < order.index("00_introduction")
        )


def test_the_extraction_index_is_always_named_as_a_difference_of_aucs():
    assert readable("persona-extraction index, AUC own − AUC others (XGBoost students)") == (
        f"persona-extraction index of XGBoost students ({INDEX_MEANING})"
    )
    assert readable("extraction index (AUC difference) 0.46 [0.31, 0.60]") == (
        f"persona-extraction index ({INDEX_MEANING}) 0.46 [0.31, 0.60]"
    )
    assert readable("CartPole return: random walk") == "CartPole return: random walk"
    with pytest.raises(ValueError, match="difference of AUCs"):
        readable("extraction index by Spearman 0.3")




def test_the_appendix_lists_the_details_of_chapters_that_left_some_only(tmp_path):
    table = pd.DataFrame({"measure": ["a"], "value": [1.0]})
    save_results([ChapterResult("01_embodiment", key_result="", details={"Every policy": table})], tmp_path)
    save_results([ChapterResult("03_baselines", key_result="")], tmp_path)
    details = load_details(tmp_path)
    assert list(details) == ["01_embodiment"]
    pd.testing.assert_frame_equal(details["01_embodiment"]["Every policy"], table)
