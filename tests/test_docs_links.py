"""README.md, docs/*.md and results/README.md: every relative link resolves to an existing
file or folder, and every #anchor to a heading of the page it points to."""
import re
from pathlib import Path

import pytest

from tests.common import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "results/README.md"]
# Reports of studies in progress: linked before the study writes them.
STUDIES_IN_PROGRESS = set()

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where links are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set:
    seen, result = {}, set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        slug = github_anchor(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def links(page: Path):
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    assert page.is_file()
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        relative = file.relative_to(REPO).as_posix() if file.is_relative_to(REPO) else str(file)
        if not file.exists():
            if relative not in STUDIES_IN_PROGRESS:
                broken.append(f"{target}: no such file")
            continue
        if anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {relative}")
    assert broken == []


def test_every_linked_study_report_exists():
    assert STUDIES_IN_PROGRESS == set()


def test_the_link_check_finds_broken_links_and_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\nSee [here](#a-title), [there](#nowhere), [gone](missing.md), "
                    "`[code](ignored.md)`\n\n```\n[fenced](ignored.md)\n```\n")
    assert list(links(page)) == ["#a-title", "#nowhere", "missing.md"]
    assert anchors(page) == {"a-title"}
    assert github_anchor("The paper's numbers (for reference, not measured here)") == \
        "the-papers-numbers-for-reference-not-measured-here"


@pytest.mark.parametrize("page", sorted((REPO / "docs").glob("*.md")), ids=lambda p: p.name)
def test_every_docs_page_opens_with_a_title_and_what_it_covers(page):
    title, blank, first = page.read_text().splitlines()[:3]
    assert title.startswith("# ") and blank == "" and first.startswith("This page covers"), page.name
