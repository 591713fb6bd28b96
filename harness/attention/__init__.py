"""`smd attention`: which parts of the SMD a model attends to when it answers (figures and a summary).

`main` is the stage (`python -m harness.attention` runs it too); `shares` its arithmetic (attention
maps -> per-token weights -> per-part shares, pure); `plot` its figures. Nothing here is imported from
outside: the face is empty.
"""

__all__: list[str] = []
