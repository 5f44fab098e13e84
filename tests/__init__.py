"""wabridge test suite (a regular package, so it wins over a stray site-packages `tests`)."""
