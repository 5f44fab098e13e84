"""CLI subcommands, one module per noun (rules, templates, replay, leads)."""
