#!/usr/bin/env python3
"""Evaluation set for issue 23, built from Faker's locale providers (MIT licence) and
checked by python-stdnum (LGPL, used as a tool here, nothing of it is shipped).

A generator of a different kind than generate.py / generate_heldout.py: the identifier
values are Faker's own (`nl_NL.ssn` is a BSN, `pl_PL.pesel`, `es_ES.nif`/`nie`,
`it_IT.ssn` a codice fiscale, `fr_FR.ssn` a NIR, `en_CA.ssn` a SIN, `pt_BR.cpf`,
`en_IN.aadhaar_id`, `tr_TR.ssn` a TC Kimlik, `zh_CN.ssn` a resident id, `ko_KR.ssn` an
RRN, `en_US.itin`/`ein`/`passport_number`/`vin`/`mac_address`/`local_latlng`), every
checksum-bearing value is validated with python-stdnum before it is used as a positive,
and the names in other scripts are Faker's (zh_CN, ja_JP, ko_KR, ru_RU, uk_UA, hi_IN,
ar_AA, el_GR, fa_IR), not the detector's inventories (mimesis). Negatives include Faker's
locale sentences (text in each language with no person in it).

Families (field "family"): encoded (PHI under an encoding a person reads through),
script_name (names in their script, with a context word), natid (national/tax/vehicle
ids, passports, MAC, coordinates), and the negatives script_clean, config_yaml,
uuid_hash, lab, eponym.

Usage: pip install faker python-stdnum
       python3 eval/phi/generate_faker23.py --seed 23 --out /tmp/f23.jsonl
"""
import argparse
import hashlib
import json
import random
import uuid

from faker import Faker
from stdnum import luhn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.cn import ric
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.tr import tckimlik
from stdnum.us import ein, itin


def vin_validate(v):
    # 49 CFR 565.15 transliteration and weights; raises ValueError like stdnum.
    tr = {c: i for i, c in enumerate("0123456789")}
    tr.update(dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9])))
    w = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    if len(v) != 17 or any(c not in tr for c in v):
        raise ValueError(v)
    c = sum(tr[x] * y for x, y in zip(v, w)) % 11
    if v[8] != ("X" if c == 10 else str(c)):
        raise ValueError(v)

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
MONTHS = "January February March April May June July August September October November December".split()
ORD = {1: "first", 2: "second", 3: "third", 5: "fifth", 8: "eighth", 9: "ninth", 12: "twelfth"}


def words(n):
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " and " + words(n % 100))


def year_words(y):
    a, b = divmod(y, 100)
    return words(a) + " " + ("hundred" if b == 0 else ("oh " + ONES[b] if b < 10 else words(b)))


def ordinal(n):
    if n in ORD:
        return ORD[n]
    w = words(n)
    if w.endswith("y"):
        return w[:-1] + "ieth"
    for k, v in ORD.items():
        if w.endswith(ONES[k]):
            return w[: -len(ONES[k])] + v
    return w + "th"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.fk = {}
        self.seed = seed

    def f(self, loc):
        if loc not in self.fk:
            x = Faker(loc)
            x.seed_instance(self.seed + len(self.fk))
            self.fk[loc] = x
        return self.fk[loc]

    def c(self, xs):
        return self.r.choice(xs)

    # ---- encodings a person reads straight through
    def encode(self, s):
        r = self.r
        kind = r.randrange(12)
        if kind == 0:  # fullwidth
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)
        if kind == 1:  # zero-width / soft hyphen inside
            return "".join(c + (r.choice(["\u200b", "\u00ad", "\u200c", "\u2060", "\u200e"]) if r.random() < 0.5 else "") for c in s)
        if kind == 2:  # HTML numeric references for some characters
            return "".join(("&#%d;" % ord(c)) if c.isalnum() and r.random() < 0.4 else c for c in s)
        if kind == 3:  # double percent-encoding
            once = "".join("%%%02X" % b for b in s.encode())
            return once.replace("%", "%25")
        if kind == 4:  # + for space, percent for @
            return s.replace(" ", "+").replace("@", "%40")
        if kind == 5:  # backslash escapes
            return "".join(("\\u%04x" % ord(c)) if c.isalpha() and r.random() < 0.5 else c for c in s)
        if kind == 6:  # Unicode dashes and spaces
            return s.replace("-", r.choice(["\u2010", "\u2011", "\u2012", "\u2013", "\u2212"])).replace(" ", r.choice(["\u00a0", "\u2009", "\u202f", "\u3000"]))
        if kind == 7:  # mathematical bold letters and digits
            def mb(c):
                if "A" <= c <= "Z":
                    return chr(0x1D400 + ord(c) - 65)
                if "a" <= c <= "z":
                    return chr(0x1D41A + ord(c) - 97)
                if "0" <= c <= "9":
                    return chr(0x1D7CE + ord(c) - 48)
                return c
            return "".join(mb(c) for c in s)
        if kind == 8:  # spaced out
            return "  ".join(" ".join(w) for w in s.split(" "))
        if kind == 9:  # other-script digits
            base = r.choice([0x0660, 0x0966, 0x09E6, 0x0E50])
            return "".join(chr(base + int(c)) if c.isdigit() else c for c in s)
        if kind == 10:  # circled letters
            def circ(c):
                if "A" <= c <= "Z":
                    return chr(0x24B6 + ord(c) - 65)
                if "a" <= c <= "z":
                    return chr(0x24D0 + ord(c) - 97)
                return c
            return "".join(circ(c) for c in s)
        return s.replace(" ", "-\n", 1) if " " in s else s[: len(s) // 2] + "-\n" + s[len(s) // 2:]

    def encoded(self):
        fk = self.f("en_US")
        kind = self.c(["us_ssn", "email", "person_name", "phone", "email_words", "age_words", "dob_words"])
        if kind == "us_ssn":
            v = fk.ssn()
            return self.c(["SSN: {}", "ssn={}", "social security number {}"]).format(self.encode(v)), "us_ssn"
        if kind == "email":
            v = fk.email()
            return self.c(["email: {}", "contact={}", "reply to {}"]).format(self.encode(v)), "email"
        if kind == "person_name":
            v = fk.first_name() + " " + fk.last_name()
            return self.c(["patient {} admitted", "Patient: {}", "spoke with {} re: results"]).format(self.encode(v)), "person_name"
        if kind == "phone":
            v = "%03d-%03d-%04d" % (self.r.randint(201, 989), self.r.randint(201, 989), self.r.randint(0, 9999))
            return self.c(["phone {}", "call back at {}", "tel: {}"]).format(self.encode(v)), "phone"
        if kind == "email_words":
            user = fk.user_name()
            dom = fk.domain_name()
            w = self.c(["{u} [at] {d}", "{u} (at) {d}", "{u} at {d}", "{u} AT {d}"])
            d = dom.replace(".", self.c([" dot ", " [dot] ", " (dot) ", "."]))
            u = user.replace(".", " dot ") if "." in user else user
            if "at {d}" in w and " dot " not in d and "." not in user and not any(ch.isdigit() for ch in user):
                d = dom.replace(".", " dot ")
            return "reach me: " + w.format(u=u, d=d), "email"
        if kind == "age_words":
            a = self.r.randint(90, 109)
            return self.c(["{} year old patient", "aged {}", "pt is {} years old", "{}-year-old woman"]).format(words(a)), "age_over_89"
        d = fk.date_of_birth(minimum_age=18, maximum_age=95)
        fmt = self.c(["DOB: {m} {o}, {y}", "born on the {o} of {m} {y}", "date of birth {m} {d}, {y}"])
        return fmt.format(m=MONTHS[d.month - 1], o=ordinal(d.day), d=d.day, y=year_words(d.year)), "person_date"

    # ---- names in their own scripts
    SCRIPT_CTX = {
        "zh_CN": ["患者{n}，男，{a}岁", "姓名：{n}", "{n}先生已出院", "联系人：{n}", "病人{n}"],
        "ja_JP": ["{n}様の予約", "氏名: {n}", "患者 {n} さん", "{n}さん 体温 36.8"],
        "ko_KR": ["{n} 님 혈압 측정", "환자 {n}", "성명: {n}", "{n}씨 보호자 연락"],
        "ru_RU": ["Пациент {n}", "ФИО: {n}", "{n}, {a} лет", "больной {n} поступил"],
        "uk_UA": ["Пацієнт {n}", "ПІБ: {n}", "{n}, {a} років"],
        "hi_IN": ["रोगी {n}", "नाम: {n}", "श्री {n} भर्ती", "मरीज {n} की जाँच"],
        "ar_AA": ["المريض {n}", "الاسم: {n}", "السيد {n}", "مريض {n} عمره {a}"],
        "el_GR": ["Ασθενής {n}", "Ονοματεπώνυμο: {n}", "κ. {n}"],
        "fa_IR": ["بیمار {n}", "نام: {n}"],
    }

    def script_name(self):
        loc = self.c(list(self.SCRIPT_CTX))
        fk = self.f(loc)
        n = fk.name()
        for p in ("Dr. ", "Mr. ", "Mrs. ", "Ms. "):
            n = n.replace(p, "")
        return self.c(self.SCRIPT_CTX[loc]).format(n=n, a=self.r.randint(20, 85)), "person_name", loc

    VITALS = {
        "zh_CN": ["体温{t}℃，心率{p}次/分，血压{s}/{d}mmHg", "{w}号病房请注意", "服务暂时不可用，请稍后重试", "检验结果已上传"],
        "ja_JP": ["体温 {t}℃ 脈拍 {p} 血圧 {s}/{d}", "予約が確定しました", "{w}号室 点滴交換"],
        "ko_KR": ["체온 {t} 맥박 {p} 혈압 {s}/{d}", "서비스를 사용할 수 없습니다", "{w}호실 회진"],
        "ru_RU": ["Температура {t}, пульс {p}, давление {s}/{d}", "Ошибка подключения к серверу", "Палата {w}: обход завершён"],
        "uk_UA": ["Температура {t}, пульс {p}, тиск {s}/{d}", "Сервіс тимчасово недоступний"],
        "hi_IN": ["तापमान {t}, नाड़ी {p}, रक्तचाप {s}/{d}", "सेवा अभी उपलब्ध नहीं है"],
        "ar_AA": ["الحرارة {t} النبض {p} ضغط الدم {s}/{d}", "الخدمة غير متوفرة حاليا", "غرفة {w}: تم تغيير المحلول"],
        "el_GR": ["Θερμοκρασία {t}, σφύξεις {p}, πίεση {s}/{d}", "Η υπηρεσία δεν είναι διαθέσιμη"],
        "fa_IR": ["دما {t} نبض {p} فشار خون {s}/{d}"],
    }

    def script_clean(self):
        loc = self.c(list(self.VITALS))
        if self.r.random() < 0.5:
            return self.f(loc).sentence(), loc
        return self.c(self.VITALS[loc]).format(t=round(self.r.uniform(36, 39.5), 1), p=self.r.randint(55, 120), s=self.r.randint(95, 160), d=self.r.randint(55, 95), w=self.r.randint(1, 40)), loc

    # ---- identifiers
    def natid(self):
        r = self.r
        while True:
            which = self.c(["bsn", "pesel", "dni", "nie", "cf", "nir", "sin", "cpf", "aadhaar", "tc", "ric", "rrn", "nhs", "itin", "ein", "passport", "vin", "mac", "geo", "encounter", "biometric"])
            try:
                return self._natid(which)
            except ValueError:
                continue

    def _natid(self, which):
        f = self.f
        lab = lambda *xs: self.c(list(xs))
        if which == "bsn":
            v = f("nl_NL").ssn(); bsn.validate(v)
            return lab("BSN: {}", "burgerservicenummer {}", "bsn={}").format(v), "national_id"
        if which == "pesel":
            v = f("pl_PL").pesel(); pesel.validate(v)
            return lab("PESEL: {}", "pesel={}", "nr PESEL {}").format(v), "national_id"
        if which == "dni":
            v = f("es_ES").nif(); dni.validate(v)
            return lab("DNI {}", "dni={}", "NIF: {}").format(v), "national_id"
        if which == "nie":
            v = f("es_ES").nie(); nie.validate(v)
            return lab("NIE {}", "nie={}").format(v), "national_id"
        if which == "cf":
            v = f("it_IT").ssn(); codicefiscale.validate(v)
            return lab("codice fiscale {}", "CF: {}", "cf={}").format(v), "national_id"
        if which == "nir":
            v = f("fr_FR").ssn(); nir.validate(v)
            return lab("NIR {}", "numéro de sécurité sociale {}", "insee={}").format(nir.format(v) if self.r.random() < 0.5 else v), "national_id"
        if which == "sin":
            v = f("en_CA").ssn(); sin.validate(v)
            return lab("SIN {}", "social insurance number: {}", "sin={}").format(v), "national_id"
        if which == "cpf":
            v = f("pt_BR").cpf(); cpf.validate(v)
            return lab("CPF {}", "cpf={}").format(v), "national_id"
        if which == "aadhaar":
            v = f("en_IN").aadhaar_id(); aadhaar.validate(v)
            v = aadhaar.format(v) if self.r.random() < 0.5 else v
            return lab("Aadhaar {}", "aadhaar_no={}", "UIDAI {}").format(v), "national_id"
        if which == "tc":
            v = f("tr_TR").ssn(); tckimlik.validate(v)
            return lab("TC Kimlik No: {}", "kimlik={}").format(v), "national_id"
        if which == "ric":
            v = f("zh_CN").ssn(); ric.validate(v)
            return lab("身份证号码：{}", "resident id {}", "id_card={}").format(v), "national_id"
        if which == "rrn":
            v = f("ko_KR").ssn(); rrn.validate(v)
            return lab("주민등록번호 {}", "RRN: {}").format(v), "national_id"
        if which == "nhs":
            while True:
                ds = [self.r.randint(0, 9) for _ in range(9)]
                c = 11 - sum(d * w for d, w in zip(ds, range(10, 1, -1))) % 11
                c = 0 if c == 11 else c
                if c != 10:
                    break
            v = "".join(map(str, ds)) + str(c)
            v = "%s %s %s" % (v[:3], v[3:6], v[6:]) if self.r.random() < 0.6 else v
            return lab("NHS number {}", "NHS No: {}", "nhs_number={}").format(v), "national_id"
        if which == "itin":
            v = f("en_US").itin(); itin.validate(v)
            return lab("ITIN {}", "itin={}", "taxpayer id {}").format(v), "tax_id"
        if which == "ein":
            v = f("en_US").ein(); ein.validate(v)
            return lab("EIN: {}", "employer id {}", "ein={}").format(v), "tax_id"
        if which == "passport":
            v = f("en_US").passport_number()
            return lab("passport number {}", "passport={}", "Passport No. {}").format(v), "passport"
        if which == "vin":
            v = f("en_US").vin(); vin_validate(v)
            return lab("VIN {}", "vehicle vin={}", "patient car VIN: {}").format(v), "vin"
        if which == "mac":
            v = f("en_US").mac_address()
            return lab("patient wearable mac {}", "home monitor MAC={}", "device_mac: {}").format(v), "mac_address"
        if which == "geo":
            lat, lon = f("en_US").local_latlng()[:2]
            return lab("home location {}, {}", "lat={} lon={}", "patient residence at {},{}").format(lat, lon), "geo_location"
        if which == "encounter":
            v = self.c(["", "V", "E", "ENC"]) + str(self.r.randint(10 ** 6, 10 ** 9))
            return lab("encounter id {}", "visit number: {}", "encounter_id={}").format(v), "encounter_id"
        v = self.c(["FP-", "BIO", "face_"]) + str(self.r.randint(10 ** 4, 10 ** 8))
        return lab("fingerprint template id {}", "biometric_id={}", "photo id {}").format(v), "biometric_id"

    # ---- false-positive families
    def config_yaml(self):
        w = self.f("en_US").word
        lines = [
            f"name: {w()}-{w()}", f"  namespace: {w()}", f"owner: {w()}-team", f"image: registry.example.org/{w()}/{w()}:{self.r.randint(1, 9)}.{self.r.randint(0, 30)}",
            f"  replicas: {self.r.randint(1, 9)}", f"maintainer: {w()}-oncall", f"author: {w()}-bot", f"  user: svc_{w()}",
            f"retry:\n  max_attempts: {self.r.randint(1, 9)}\n  backoff: {w()}", f"- name: {w().upper()}_{w().upper()}\n  value: \"{w()}\"",
            f"labels: {{app: {w()}, tier: {w()}}}", f"host: {w()}-{self.r.randint(0, 9)}.{w()}.svc.cluster.local",
        ]
        return self.c(lines)

    def uuid_hash(self):
        u = str(uuid.UUID(int=self.r.getrandbits(128), version=4))
        h = hashlib.sha256(str(self.r.random()).encode()).hexdigest()
        m = hashlib.md5(str(self.r.random()).encode()).hexdigest()
        w = self.f("en_US").word
        return self.c([u, f"request {u} completed in {self.r.randint(1, 900)}ms", f"job {u} for tenant {str(uuid.UUID(int=self.r.getrandbits(128), version=4))} {w()}",
                       f"sha256:{h}", f"md5={m} {w()}={self.r.randint(0, 99)}", f"digest {h[:40]} verified", u.upper(), f"{{\"id\": \"{u}\", \"status\": \"{w()}\"}}"])

    LABS = [("Hgb", "g/dL", 12.0, 15.5), ("K", "mmol/L", 3.5, 5.1), ("Na", "mmol/L", 135, 145), ("WBC", "x10^9/L", 4.0, 11.0), ("Glucose", "mg/dL", 70, 99), ("TSH", "mIU/L", 0.4, 4.0),
            ("Creatinine", "mg/dL", 0.6, 1.2), ("ALT", "U/L", 7, 56), ("INR", "", 0.8, 1.2), ("Ferritin", "ng/mL", 30, 400), ("Platelets", "x10^3/uL", 150, 400), ("HbA1c", "%", 4.0, 5.6),
            ("CRP", "mg/L", 0, 10), ("Troponin I", "ng/mL", 0, 0.04), ("LDL", "mg/dL", 0, 100), ("Calcium", "mg/dL", 8.5, 10.5)]

    def lab(self):
        n, u, lo, hi = self.c(self.LABS)
        v = round(self.r.uniform(lo * 0.7, hi * 1.3 + 0.1), 1)
        return self.c(["{n} {v} {u} (ref {lo}-{hi})", "{n} {v} {u} [{lo}–{hi}]", "{n}: {v} {u} ref range {lo} - {hi}", "{n}={v}{u} ({lo}-{hi}) H", "result {n} {v} {u}; reference {lo}-{hi} {u}"]).format(n=n, v=v, u=u, lo=lo, hi=hi)

    HEADS = ["Hospital", "Memorial Hospital", "Medical Center", "Cancer Institute", "Institute", "Clinic", "University Hospital", "Children's Hospital", "Foundation", "Research Center"]
    EPON = ["Scale", "Score", "syndrome", "disease", "catheter", "forceps", "retractor", "procedure", "classification", "criteria", "sign", "test"]

    def eponym(self):
        fk = self.f("en_US")
        if self.r.random() < 0.5:
            who = fk.last_name() if self.r.random() < 0.5 else fk.first_name() + " " + fk.last_name()
            return self.c(["referred to {} {}", "transfer from {} {}", "facility: {} {}", "consult at {} {}"]).format(who, self.c(self.HEADS))
        who = fk.last_name() + self.c(["", "-" + fk.last_name()])
        return self.c(["{} {} documented", "positive {} {}", "{} {} placed", "history of {} {}"]).format(who, self.c(self.EPON))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=400, help="rows per family")
    a = ap.parse_args()
    g = Gen(a.seed)
    rows = []
    for _ in range(a.n):
        t, k = g.encoded(); rows.append({"text": t, "kinds": [k], "group": "encoded/" + k, "family": "encoded"})
        t, k, loc = g.script_name(); rows.append({"text": t, "kinds": [k], "group": "script_name/" + loc, "family": "script_name"})
        t, k = g.natid(); rows.append({"text": t, "kinds": [k], "group": "natid/" + k, "family": "natid"})
        t, loc = g.script_clean(); rows.append({"text": t, "kinds": [], "group": "script_clean/" + loc, "family": "script_clean"})
        rows.append({"text": g.config_yaml(), "kinds": [], "group": "config_yaml", "family": "config_yaml"})
        rows.append({"text": g.uuid_hash(), "kinds": [], "group": "uuid_hash", "family": "uuid_hash"})
        rows.append({"text": g.lab(), "kinds": [], "group": "lab", "family": "lab"})
        rows.append({"text": g.eponym(), "kinds": [], "group": "eponym", "family": "eponym"})
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
