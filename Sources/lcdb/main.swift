import LCDBShell

LCDBCommand.main()
