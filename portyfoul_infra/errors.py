"""The one exception type that means "the user asked for something we refuse".

Raised anywhere; tasks.py turns it into a one-line message and exit code 2
(see outcomes.Outcome.REFUSED). It is raised before anything changes.
"""


class UserError(Exception):
    """Bad input or a state we refuse to act on. The message is shown as is."""
