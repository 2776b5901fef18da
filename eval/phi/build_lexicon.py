#!/usr/bin/env python3
"""Builds the compiled-in name lexicon of mig06-phi from public data.

Sources:
  * US Census Bureau 1990 name files (public domain), as shipped in the PyPI sdist
    `names` 0.3.0: dist.all.last, dist.female.first, dist.male.first.
    Obtain with: pip download names==0.3.0 --no-deps -d DIR && tar xzf DIR/names-0.3.0.tar.gz -C DIR
  * Multi-country first and last names: the locale data of the PyPI wheel `mimesis`
    22.2.0 (MIT licence, per its package metadata): `mimesis/datasets/<locale>/person.json`,
    keys `names` and `surnames` (lists, or lists per gender), for every locale shipped.
    Obtain with: pip download mimesis==22.2.0 --no-deps -d DIR &&
    unzip DIR/mimesis-22.2.0-py3-none-any.whl -d DIR/mimesis
    From it: every first name and surname, folded to ASCII (NFKD, marks dropped); only
    names that are Latin-script single tokens after folding are kept (names in other
    scripts are caught by the detector's non-Latin rule, not by the lexicon); dropped when
    they are lowercase English dictionary words (Debian `wamerican`,
    /usr/share/dict/american-english) or software-metadata words (VOCAB).
    `names-dataset` (used before) was removed: its author states its lists were aggregated
    from the 2021 Facebook scrape, i.e. derived from leaked personal data. `faker` is not
    a source either: the held-out generator (generate_heldout.py) draws its names from it.
  * COMMON: census names that are also everyday English / software words: the
    intersection of the census lists with Faker's en_US lorem word list and VOCAB.
    A token in COMMON never counts as a name on its own evidence.
  * fold.txt: Latin letters with diacritics (U+00C0..U+024F) and their ASCII folding,
    from Python's unicodedata (NFKD), used by the tokenizer.

Usage: python3 eval/phi/build_lexicon.py CENSUS_DIR MIMESIS_DIR
  (CENSUS_DIR = .../names-0.3.0/names, MIMESIS_DIR = the unzipped mimesis wheel)
Writes crates/mig06-phi/data/{first,last,common,fold}.txt (lowercase, one per line;
first/common sorted, last in rank order: the census surnames in census order, then the
mimesis surnames not in the census, sorted; mimesis has no frequency ranks, so they stay
above every surname rank cut-off of src/names.rs).
"""
import glob
import json
import os
import unicodedata
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
kube kubelet kafka mongo redis nginx envoy istio helm argo jaeger otel span trace
tempo loki grafana prometheus consul vault nomad terraform ansible docker podman
alpha gamma delta sigma omega kappa lambda zeta theta iota epsilon
linux debian ubuntu alpine centos fedora arch darwin windows macos
java scala kotlin ruby rust perl julia swift dart elixir haskell
www http https ftp com org net biz info io edu gov ip tcp udp dns ssl tls ssh api url uri
html json xml yaml csv sql app web dev ops env log bin lib src tmp var usr opt etc srv run
sys pod tag git npm pip gcc jvm cpu gpu ram ssd hdd usb lan wan vpn nat mtu ttl rtt qps
tps rps sla slo sli kpi alg pgn max min avg sum std sol
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


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.replace("\u00df", "ss").replace("\u00e6", "ae").replace("\u0153", "oe") \
        .replace("\u00f8", "o").replace("\u0142", "l").replace("\u0111", "d") \
        .replace("\u00f0", "d").replace("\u00fe", "th").replace("\u0131", "i")


def flatten(v):
    """`names`/`surnames` are a list of strings or a dict of such lists (per gender)."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from flatten(x)
    elif isinstance(v, list):
        for x in v:
            yield from flatten(x)


def mimesis_names(root, key, english, vocab, min_len):
    """Folded, Latin-script, single-token names under `key` in every locale's person.json."""
    out = set()
    paths = sorted(glob.glob(os.path.join(root, "mimesis", "datasets", "*", "person.json")))
    if not paths:
        sys.exit(f"no mimesis/datasets/*/person.json under {root}")
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for name in flatten(data.get(key, [])):
            f = fold(name.strip()).lower()
            if not f.isascii() or not f.isalpha() or not (min_len <= len(f) <= 20):
                continue
            if f in english or f in vocab:
                continue
            out.add(f)
    return out


def main():
    src = sys.argv[1]
    mim = sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "..", "crates", "mig06-phi", "data")
    census_first = set(read_census(os.path.join(src, "dist.female.first"), FEMALE_TOP)
                       + read_census(os.path.join(src, "dist.male.first"), MALE_TOP))
    census_last = read_census(os.path.join(src, "dist.all.last"), LAST_TOP)
    from faker.providers.lorem.en_US import Provider as Lorem

    vocab = set(VOCAB.split())
    english = set()
    with open("/usr/share/dict/american-english") as f:
        for w in f:
            w = w.strip()
            if w and w.islower() and w.isalpha():
                english.add(fold(w))
    mim_first = mimesis_names(mim, "names", english, vocab, 3)
    mim_last = mimesis_names(mim, "surnames", english, vocab, 2)
    first = sorted(census_first | mim_first)
    # Census surnames keep their census rank (the weaker shapes use rank cut-offs tuned on
    # it); mimesis surnames not in the census follow, sorted (mimesis has no ranks). Two-letter
    # surnames come only from the census: without a frequency rank to vouch for them they
    # are mostly particles and codes (`de`, `da`, `lg`).
    seen = set(census_last)
    extra = sorted(n for n in mim_last if n not in seen and len(n) > 2)
    last = list(census_last) + extra
    words = set(w.lower() for w in Lorem.word_list) | vocab
    names = census_first | set(census_last)
    common = sorted(w for w in words if w in names)
    folds = []
    for cp in range(0xC0, 0x250):
        c = chr(cp)
        if not c.isalpha():
            continue
        f = fold(c).lower()
        if f.isascii() and f.isalpha() and f != c.lower():
            folds.append(f"{c} {f}")
    for name, items in (("first", first), ("last", last), ("common", common), ("fold", folds)):
        with open(os.path.join(data, name + ".txt"), "w") as f:
            f.write("\n".join(items) + "\n")
        print(name, len(items))


if __name__ == "__main__":
    main()
