"""The local AWS (a patched moto server on 127.0.0.1) and the sandbox that runs the whole lifecycle on it."""
