"""Sample files the tests read, kept in the repository so a fresh clone runs the suite.

contacts-2100-semicolon.csv: 2,100 contacts, `;`-separated, UTF-8, every 50th row
defective (the founding story's file). contacts-500-excel-cp1252.csv: 500
contacts as Excel saves them on Windows (cp1252, CRLF).
"""

from pathlib import Path

DATA = Path(__file__).resolve().parent
CONTACTS_2100 = DATA / "contacts-2100-semicolon.csv"
