"""nsclient: run Nextstrain builds on AWS Batch without keeping your laptop awake."""

__version__ = "0.1.0"
