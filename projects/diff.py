"""Readable differences between two prompt revisions (word-level; one CJK character a word)."""
import difflib
import re

TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]|[^\W_]+(?:['’][^\W_]+)*|\s+|.", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text or "")


def text_ops(a: str, b: str) -> list[dict]:
    """[{"op": "equal"|"insert"|"delete", "text": ...}] turning ``a`` into ``b``."""
    left, right = tokenize(a), tokenize(b)
    ops = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag in ("equal",):
            ops.append({"op": "equal", "text": "".join(left[i1:i2])})
        if tag in ("delete", "replace"):
            ops.append({"op": "delete", "text": "".join(left[i1:i2])})
        if tag in ("insert", "replace"):
            ops.append({"op": "insert", "text": "".join(right[j1:j2])})
    return ops


def dict_changes(a: dict, b: dict) -> list[dict]:
    changes = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            changes.append({"key": key, "op": "added", "new": b[key]})
        elif key not in b:
            changes.append({"key": key, "op": "removed", "old": a[key]})
        elif a[key] != b[key]:
            changes.append({"key": key, "op": "changed", "old": a[key], "new": b[key]})
    return changes


def revision_diff(a, b) -> dict:
    assets_a = {asset.pk: asset.name for asset in a.assets.all()}
    assets_b = {asset.pk: asset.name for asset in b.assets.all()}
    return {
        "from": {"id": a.pk, "number": a.number},
        "to": {"id": b.pk, "number": b.number},
        "prompt": text_ops(a.prompt, b.prompt),
        "negative_prompt": text_ops(a.negative_prompt, b.negative_prompt),
        "params": dict_changes(a.params or {}, b.params or {}),
        "assets": {
            "added": [{"id": pk, "name": name} for pk, name in assets_b.items() if pk not in assets_a],
            "removed": [{"id": pk, "name": name} for pk, name in assets_a.items() if pk not in assets_b],
        },
        "note": b.note,
    }
