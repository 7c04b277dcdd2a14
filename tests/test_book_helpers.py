"""scripts/book_helpers.py: the listings, results files and provenance phrases of the chapters."""
import json

import pytest

import sparana_lite as sl
from tests.scripts import import_script

helpers = import_script("book_helpers")


def test_listing_drops_the_docstring_and_names_the_file():
    text = helpers.listing(sl.prune.maav)
    assert text.splitlines()[0].startswith("# sparana_lite/")
    assert sl.prune.maav.__doc__.strip().splitlines()[0] not in text
    assert "def maav(" in text and "return" in text


def test_listing_of_a_method_keeps_its_body():
    text = helpers.listing(sl.MLP.forward)
    assert "def forward(" in text and '"""' not in text


def test_listing_of_a_numba_kernel_is_its_python_source():
    from sparana_lite.kernels import dense as K
    text = helpers.listing(K.bias_act_)
    assert text.startswith("# sparana_lite/kernels/dense.py") and "def bias_act_(" in text


def test_describe_names_the_file_date_machine_and_time_but_no_command_or_commit():
    record = helpers.load_results("removal-speed")
    text = helpers.describe(record)
    p = record["provenance"]
    assert "`removal-speed.json`" in text and p["date"][:10] in text and p["cpu"] in text
    assert p["commit"][:7] not in text and "reproduce.py" not in text


def test_a_missing_results_file_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "RESULTS", tmp_path)
    assert helpers.load_results("nothing-here", required=False) is None
    with pytest.raises(FileNotFoundError, match="reproduce.py nothing-here"):
        helpers.load_results("nothing-here")
    (tmp_path / "x.json").write_text(json.dumps({"results": 1}))
    assert helpers.load_results("x") == {"results": 1}


def test_esc_keeps_a_bar_inside_a_table_cell():
    assert helpers.esc("|w| and MAAV") == "\\|w\\| and MAAV"
