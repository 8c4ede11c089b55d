"""Write a deterministic contact CSV of any size for the import benchmark.

    python bench/contacts.py ROWS OUT.csv [--delimiter ';'] [--bad-every 50] [--seed 7]

Columns: email, first_name, last_name, city, plan, signup_date. Names carry
accents and a few local parts stay non-ASCII (SMTPUTF8), as real lists do; every
Nth row is defective in one of the ways real files are (a doubled @, " at ",
a whole row jammed into the email cell, a case-only duplicate, padding), so the
benchmark pays for rejection and de-duplication too.
"""

import argparse
import csv
import random
import unicodedata
from pathlib import Path

FIRST = ["Ada", "Björk", "Céline", "Darius", "Emre", "Fátima", "Goran", "Hana", "Ingrid",
         "Jürgen", "Kofi", "Léa", "Mateo", "Nadia", "Øystein", "Paulo", "Rūta", "Siobhán",
         "Thảo", "Ugo", "Vera", "Xiadani", "Yuki", "Zdeněk"]  # fmt: skip
LAST = ["Abara", "Bergström", "Castaño", "Dvořák", "Ekström", "Fernández", "Gruber",
        "Horvát", "Iyer", "Jovanović", "Kim", "Lindqvist", "Moreau", "Nowak", "O'Neill",
        "Pereira", "Quispe", "Sørensen", "Takahashi", "Weiß", "Zieliński"]  # fmt: skip
CITIES = ["Oslo", "Porto", "Gdańsk", "Córdoba", "Genève", "Kyoto", "Denver", "Accra"]
DOMAINS = ["example.com", "example.org", "lists.example.net", "mail.example.de"]
PLANS = ["free", "pro", "team"]


def spoil(rng: random.Random, email: str, previous: str, row: list[str]) -> str:
    """One of the defects an importer must reject, repair or de-duplicate."""
    return rng.choice(
        [
            email.replace("@", "@@"),
            email.replace("@", " at "),
            ";".join([email, row[1], row[2]]),
            previous.upper(),  # the row before, once normalised
            f"  {email} ",
        ]
    )


def rows(count: int, bad_every: int, seed: int):
    rng = random.Random(seed)
    previous = "first@example.com"
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}.{i}".lower().replace("'", "")
        if i % 97 != 13:  # about 1 % keep their accents and need SMTPUTF8
            local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
        email = f"{local}@{DOMAINS[i % len(DOMAINS)]}"
        day = f"20{rng.randrange(15, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        row = [email, first, last, rng.choice(CITIES), rng.choice(PLANS), day]
        if bad_every and i % bad_every == bad_every - 1:
            row[0] = spoil(rng, email, previous, row)
        previous = email
        yield row


def write(count: int, out: Path, delimiter: str = ",", bad_every: int = 50, seed: int = 7) -> Path:
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["email", "first_name", "last_name", "city", "plan", "signup_date"])
        writer.writerows(rows(count, bad_every, seed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--bad-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write(args.rows, args.out, args.delimiter, args.bad_every, args.seed)


if __name__ == "__main__":
    main()
