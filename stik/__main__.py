from stik.cli import main

main()
