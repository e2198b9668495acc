"""Frames of pushed JavaScript point into the user's TypeScript, through esbuild's source maps."""

from __future__ import annotations

from convexpy.runtime.js.sourcemap import SourceMap, remap

# esbuild's map of a two-line bundle: line 1 from lib.ts:1:1, line 2 col 3 from app.ts:10:5 (0-based in the map).
MAP = '{"version":3,"sources":["../node_modules/lib.ts","../convex/app.ts"],"mappings":"AAAA;GCSI","names":[]}'


def test_a_generated_position_maps_to_its_source_line_and_column():
    source_map = SourceMap(MAP)
    assert source_map.original(1, 1) == ("../node_modules/lib.ts", 1, 1)
    assert source_map.original(2, 10) == ("../convex/app.ts", 10, 5)
    assert source_map.original(2, 1) is None  # before the line's first mapping
    assert source_map.original(9, 1) is None


def test_frames_are_rewritten_and_library_frames_dropped():
    message = "Uncaught Error: no\n    at handler (convex:/app.js:2:7)\n    at lib (convex:/app.js:1:4)\n    at x (convex:/other.js:3:3)"
    assert remap(message, {"app.js": SourceMap(MAP)}) == (
        "Uncaught Error: no\n    at handler (../convex/app.ts:10:5)\n    at x (convex:/other.js:3:3)"
    )
