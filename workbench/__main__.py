"""``python -m workbench``: the same command as ``workbench``."""

from .cli import main

main()
