import LCDBCore

print("lcdb")
