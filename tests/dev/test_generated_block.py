"""dev/generated_block.py replaces only the generated part of a page."""
import pytest

from dev.generated_block import replace_block


def test_the_block_is_added_then_replaced_and_the_rest_kept(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("# Title\n\n<!-- table -->\nafter\n")
    replace_block(page, "table", "| a |\n|---|\n| 1 |\n")
    assert page.read_text() == "# Title\n\n<!-- table -->\n| a |\n|---|\n| 1 |\n<!-- /table -->\nafter\n"
    replace_block(page, "table", "| b |\n")
    assert page.read_text() == "# Title\n\n<!-- table -->\n| b |\n<!-- /table -->\nafter\n"


def test_a_page_without_the_marker_is_an_error_naming_it(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("# Title\n")
    with pytest.raises(ValueError, match=f"{page}: no line '<!-- table -->'"):
        replace_block(page, "table", "x")
    assert page.read_text() == "# Title\n"
