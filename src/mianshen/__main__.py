from mianshen.cli import main

main()
