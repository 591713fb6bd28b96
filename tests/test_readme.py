"""The README a newcomer reads: its links into the repository resolve, and it points to no document that
lives outside it."""

import re

from tests.builders import REPO


def test_readme_links_resolve_inside_the_repository():
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert "docs/data.md" in local and "docs/protocols.md" in local
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, missing
    assert "DESIGN.md" not in readme  # the design document is not part of the repository
