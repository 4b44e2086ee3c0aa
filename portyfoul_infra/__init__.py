"""portyfoul-infra: the Portyfoul AWS infrastructure as code, and the tasks that run it."""

__version__ = "0.1.0"
