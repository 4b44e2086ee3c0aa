"""The local runs: the sandbox's scenarios and the rehearsal of a takeover, each on a local AWS of its own
(runner.py), running the verbs a user runs. Above the verbs: only tasks.py imports them."""
