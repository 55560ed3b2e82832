"""The `cpt` command line tool."""

from novacpt.cli.main import app

__all__ = ["app"]
