"""A Jupyter wrapper kernel for bsn: one `bsn kernel-server` process per kernel."""

__version__ = "0.1.0"
