"""Renderers: lspci-compatible text, JSON, HTML; all derived from the declarations in regs/."""
