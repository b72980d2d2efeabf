"""The interpreter model: what each CPython version does (presets, collector policies, the
heap of tracked objects, what a collection costs)."""
