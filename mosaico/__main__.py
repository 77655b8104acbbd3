from mosaico.cli import main

main()
