"""The `cpt` command line tool."""

from novacpt_cli.main import app

__all__ = ["app"]
