#!/usr/bin/env python3
"""Builds the compiled-in name lexicon of mig06-phi from public-domain data.

Sources:
  * US Census Bureau 1990 name files (public domain), as shipped in the PyPI sdist
    `names` 0.3.0: dist.all.last, dist.female.first, dist.male.first.
    Obtain with: pip download names==0.3.0 --no-deps -d /tmp/names && tar xzf ...
  * COMMON: names that are also everyday English / software words. Built as the
    intersection of the name lists with Faker's en_US lorem word list (common
    English words) and a hand-written software-metadata vocabulary (VOCAB below).
    A token in COMMON never counts as a name on its own evidence.

Usage: python3 eval/phi/build_lexicon.py /path/to/names-0.3.0/names
Writes crates/mig06-phi/data/{first,last,common}.txt (lowercase, one per line;
first/common sorted, last in census frequency-rank order).
"""
import os
import sys

LAST_TOP = 30000  # surname rank cut-off (1990 census covers 88,799 surnames)
# First-name rank cut-offs: the tails of the census lists hold misspellings
# ("manual") and rare forms that collide with vocabulary.
FEMALE_TOP = 3500
MALE_TOP = 1100

# Words that metadata, enum codes and policy ids are built from. A name that is
# also one of these is only accepted with stronger shape evidence.
VOCAB = """
access account action active actor admin agent alert allow alpha amber api apply
approve april archive art audit august auto back backup badge baker bank base batch
beacon bell bench beta bill black block blue bond bridge brown budget build bundle burn
bush cache call camp cannon card case cash castle chain chance chase check child church
clay clear clerk cliff close cloud coach code color cook core cost count court craft
crane cross crown cycle dash data dawn day decision deny desk diamond dodge draft drain
drake drive early east easter eden edge english event fair faith fall field fields fine
flag fleet flow ford forest fox frank free fuller gale game gate gay glass gold golden
good grace grant gray green grey grove guard hall hand hardy harvest hash hay head heap
hill holiday hood hope horn house hunt hunter ivy jewel job joy judge june july just
keen key king lake lane large law lead legal lily link little lock long lord love major
march mark marsh master may mercy merit mill mint model mode monday moon more moss new
night noble north note nurse oak ocean page paris park pass patch path peace pearl
penny person pike pine plain policy pool porter post pound power price prince queen
quick rain read reader record rich ridge ring rivers robin rock rose ruby rule rush
sage sale salt sand scale sharp shell shield short signal silver sky slate small snow
spring stable stack stage star start state steel sterling stone storm story strong
summer swift sun tag temple test thorn tier time token top tower town track trail tree
trust union vale valley vault version wall ward watch water waters way west white will
winter wolf wood woods worth young rail gate service signal session mig operator
explicit implicit permit deny forbid summary discharge admit referral consult review
reviewer pending complete completed final status reason scope tenant region zone worker
primary replica shard node pod cluster prod staging dev local canary blue green mirror
relay router proxy cron job queue topic stream sink source
"""


def read_census(path, limit=None):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            out.append(parts[0].lower())
            if limit and len(out) >= limit:
                break
    return out


def main():
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "..", "crates", "mig06-phi", "data")
    first = sorted(set(read_census(os.path.join(src, "dist.female.first"), FEMALE_TOP)
                       + read_census(os.path.join(src, "dist.male.first"), MALE_TOP)))
    last = read_census(os.path.join(src, "dist.all.last"), LAST_TOP)
    from faker.providers.lorem.en_US import Provider as Lorem

    words = set(w.lower() for w in Lorem.word_list) | set(VOCAB.split())
    names = set(first) | set(last)
    common = sorted(w for w in words if w in names)
    for name, items in (("first", first), ("last", last), ("common", common)):
        with open(os.path.join(data, name + ".txt"), "w") as f:
            f.write("\n".join(items) + "\n")
        print(name, len(items))


if __name__ == "__main__":
    main()
