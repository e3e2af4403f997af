"""DataFrames that keep numbers as integers (to compute with, to query, to export) but show addresses,
data and offsets in hex, and text whole, when a notebook displays them."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any


@cache
def _hex_frame_class() -> type:
    import pandas

    class HexFrame(pandas.DataFrame):
        """A DataFrame whose `hex_columns` (name -> digits) are drawn as 0x... in HTML and text."""

        _metadata = ["hex_columns"]

        @property
        def _constructor(self) -> type:
            return HexFrame

        def _formatters(self) -> dict[str, Any]:
            def fmt(digits: int) -> Any:
                return lambda v: "" if pandas.isna(v) else f"0x{int(v):0{digits}x}"

            return {c: fmt(d) for c, d in (getattr(self, "hex_columns", None) or {}).items() if c in self.columns}

        def _repr_html_(self) -> str:
            with pandas.option_context("display.max_colwidth", None):
                return self.to_html(formatters=self._formatters(), max_rows=pandas.get_option("display.max_rows"),
                                    notebook=True)

        def __repr__(self) -> str:
            with pandas.option_context("display.max_colwidth", None):
                return self.to_string(formatters=self._formatters(), max_rows=pandas.get_option("display.max_rows"))

    return HexFrame


def hex_frame(df: Any, hex_columns: Mapping[str, int]) -> Any:
    """`df` (a pandas DataFrame) as a HexFrame showing `hex_columns` (name -> digits) in hex."""
    out = _hex_frame_class()(df)
    out.hex_columns = dict(hex_columns)
    return out
