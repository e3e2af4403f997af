"""lspci text for extended capabilities: each module defines RENDERERS = {ecap id: fn(ctx, cap)}."""
