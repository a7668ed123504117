"""opportunity's rules: pure, no I/O, no frameworks."""
