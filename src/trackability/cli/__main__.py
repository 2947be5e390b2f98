"""``python -m trackability.cli``: the same as the ``trackability`` command."""

from trackability.cli import main

main()
