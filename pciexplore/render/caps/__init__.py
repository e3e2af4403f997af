"""lspci text for standard capabilities: each module defines RENDERERS = {cap id: fn(ctx, cap)}."""
