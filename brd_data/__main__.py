from brd_data.cli import main

main()
