"""``python -m mianshen.cli …``: the `mianshen` command (as ``python -m mianshen``)."""

from mianshen.cli import main

main()
