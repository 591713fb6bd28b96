"""`smd report`: a self-contained HTML case viewer of one evaluation, or two side by side.

`main` is the stage (`python -m harness.report` runs it too); `cases` its pure core (a doc's motion as
the page stores it, each cell's answers, the disagreements, the per-type table); `page.html` the page
it fills in (package data). Nothing here is imported from outside: the face is empty.
"""

__all__: list[str] = []
