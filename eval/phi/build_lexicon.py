#!/usr/bin/env python3
"""Builds the compiled-in name lexicon of mig06-phi from public data.

Sources:
  * US Census Bureau 1990 name files (public domain), as shipped in the PyPI sdist
    `names` 0.3.0: dist.all.last, dist.female.first, dist.male.first.
    Obtain with: pip download names==0.3.0 --no-deps -d DIR && tar xzf DIR/names-0.3.0.tar.gz -C DIR
  * Multi-country first and last names: the PyPI wheel `names-dataset` 3.3.1 (MIT licence;
    per-country name frequency ranks for 105 countries; the author states the lists were
    aggregated from the 2021 Facebook scrape, so only aggregate name ranks are used here,
    never any record). Obtain with: pip download names-dataset==3.3.1 --no-deps -d DIR &&
    unzip DIR/names_dataset-3.3.1-py3-none-any.whl -d DIR/nd
    From it: first names ranked <= ND_FIRST_TOP and surnames ranked <= ND_LAST_TOP in any
    country, folded to ASCII (NFKD, marks dropped), single tokens only, and dropped when
    they are lowercase English dictionary words (Debian `wamerican`,
    /usr/share/dict/american-english) or software-metadata words (VOCAB), since the
    scrape holds junk tokens that a census does not.
  * COMMON: census names that are also everyday English / software words: the
    intersection of the census lists with Faker's en_US lorem word list and VOCAB.
    A token in COMMON never counts as a name on its own evidence.
  * fold.txt: Latin letters with diacritics (U+00C0..U+024F) and their ASCII folding,
    from Python's unicodedata (NFKD), used by the tokenizer.

Usage: python3 eval/phi/build_lexicon.py CENSUS_DIR ND_DIR
  (CENSUS_DIR = .../names-0.3.0/names, ND_DIR = the unzipped names-dataset wheel)
Writes crates/mig06-phi/data/{first,last,common,fold}.txt (lowercase, one per line;
first/common sorted, last in rank order: the census surnames in census order, then the
names-dataset surnames not in the census, by best per-country rank).
"""
import gzip
import os
import pickle
import unicodedata
import sys

LAST_TOP = 30000  # surname rank cut-off (1990 census covers 88,799 surnames)
# First-name rank cut-offs: the tails of the census lists hold misspellings
# ("manual") and rare forms that collide with vocabulary.
FEMALE_TOP = 3500
MALE_TOP = 1100
ND_FIRST_TOP = 1000
ND_LAST_TOP = 2000

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


def nd_names(path, top, english, vocab, min_len):
    data = pickle.load(gzip.open(path))
    best = {}
    for name, info in data.items():
        ranks = info.get("rank") or {}
        if not ranks:
            continue
        r = min(ranks.values())
        if r > top:
            continue
        f = fold(name.strip()).lower()
        if not f.isascii() or not f.isalpha() or not (min_len <= len(f) <= 20):
            continue
        if f in english or f in vocab:
            continue
        if f not in best or r < best[f]:
            best[f] = r
    return best


def main():
    src = sys.argv[1]
    nd = sys.argv[2]
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
    nd_first = nd_names(os.path.join(nd, "names_dataset", "v3", "first_names.pkl.gz"),
                        ND_FIRST_TOP, english, vocab, 3)
    nd_last = nd_names(os.path.join(nd, "names_dataset", "v3", "last_names.pkl.gz"),
                       ND_LAST_TOP, english, vocab, 2)
    first = sorted(census_first | set(nd_first))
    # Census surnames keep their census rank (the weaker shapes use rank cut-offs tuned on
    # it); names-dataset surnames not in the census follow, by best per-country rank.
    seen = set(census_last)
    extra = sorted((n for n in nd_last if n not in seen and not (len(n) == 2 and nd_last[n] > 200)),
                   key=lambda n: (nd_last[n], n))
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
