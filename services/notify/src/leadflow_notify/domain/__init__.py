"""notify's rules, pure (no I/O, no framework): who hears of what, in which words, and when."""
