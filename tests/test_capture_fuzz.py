"""Untrusted captures: any JSON a file can hold either opens or fails with one InputError line — never
another exception — and what opens can be shown, diagnosed, diffed, exported and explored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pciexplore.capture import open_capture
from pciexplore.diff import diff
from pciexplore.doctor import diagnose
from pciexplore.errors import InputError
from pciexplore.render.html import render_html
from pciexplore.widgets.explorer import Explorer

REPO = Path(__file__).resolve().parents[1]
BASE = json.loads((REPO / "data" / "q35-e1000e-nvme.json").read_text())

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(["00", "zz", "ff" * 5000, "0000:01:00.0", "msix-table"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]


# line coverage of pciexplore/ by these examples: 2542 lines at 25, 2555 at 150 (each example builds a whole
# explorer, about 2 s a dozen): 60 keeps the edits varied without paying for examples that reach nothing new
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=3))
def test_mutated_capture_opens_or_fails_cleanly(tmp_path_factory, edits):
    doc = json.loads(json.dumps(BASE))
    for path, value, delete in edits:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            if delete and isinstance(node, dict):
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    file = tmp_path_factory.mktemp("fuzz") / "c.json"
    file.write_text(json.dumps(doc))
    try:
        cap = open_capture(file)
    except InputError as e:
        assert "\n" not in str(e)
        return
    render_html(cap)
    diagnose(cap)
    explorer = Explorer(cap)
    for fn in cap.functions():
        explorer.show(fn)
    diff(cap, open_capture(REPO / "data" / "q35-e1000e-nvme.json"))
    cap.save(file)
    open_capture(file)


@pytest.mark.parametrize("junk", [b"", b"{", b"{}", b"{\"format\": \"pciexplore-capture\", \"version\": 1}", b"\x00" * 64,
                                  b"{\"format\": \"pciexplore-capture\", \"version\": 1, \"functions\": [[]]}"])
def test_junk_is_an_input_error(tmp_path, junk):
    (tmp_path / "j.json").write_bytes(junk)
    with pytest.raises(InputError):
        open_capture(tmp_path / "j.json")
