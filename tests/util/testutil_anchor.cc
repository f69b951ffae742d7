// Keeps lightning_testutil non-empty while tests/util has no sources.
