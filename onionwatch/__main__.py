from onionwatch.cli import main

main()
