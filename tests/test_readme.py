"""README.md stays short, in the order a user reads it; the rest is in docs/."""
import re

from tests.common import REPO

SECTIONS = [
    "Installation",
    "Quick start",
    "Training and evaluation on WIDER FACE",
    "Results in brief",
    "The FFP in your own Detectron2 model",
    "Face detection without Detectron2",
    "Documentation",
    "Citation",
]


def test_readme_is_at_most_250_lines_with_its_sections_in_order():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    text_outside_code = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    assert re.findall(r"^## (.+)$", text_outside_code, re.M) == SECTIONS


def test_results_in_brief_holds_the_seg_study_placeholder_and_the_papers_numbers():
    text = (REPO / "README.md").read_text()
    results = text.split("## Results in brief", 1)[1].split("\n## ", 1)[0]
    assert results.count("<!-- seg-study-verdicts -->") == 1
    assert "(results/seg_study/seg_study.md)" in results
    assert "### The paper's numbers (for reference, not measured here)" in results


def test_the_earlier_controlled_study_keeps_its_verdicts_in_the_development_page():
    text = (REPO / "docs" / "development.md").read_text()
    assert text.count("<!-- ablation-verdicts -->") == 1
    assert "(../results/ablation_v3/ablation.md)" in text


def test_readme_links_every_docs_page():
    text = (REPO / "README.md").read_text()
    for page in (REPO / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in text, page.name
