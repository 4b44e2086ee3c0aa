"""The verbs: one module per verb family, each verb `verb(ctx, opts) -> Outcome`. Only tasks.py imports them."""
