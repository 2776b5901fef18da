#!/usr/bin/env python3
"""Adversarial set for issue 23, written by a second author after the rules of the first.

Templates, encodings and negative texts are this file's own (none are taken from
generate.py, generate_heldout.py or generate_faker23.py). Values: person names from
Faker's locale providers (MIT), national ids built from random digits and accepted only
when python-stdnum (LGPL, a tool here) says they are valid. Caveat: the author had read
the detector's code before writing this file, so it is adversarial by intent, not blind.

Families (field "family"; field "group" is family/subgroup):
  positives  enc_digits, enc_invisible, enc_dash_space, enc_html, enc_percent, enc_escape,
             enc_styled, enc_spaced, enc_joined, enc_email_words, enc_words, script_name,
             natid
  negatives  script_clean, fp_yaml, fp_uuid, fp_digest, fp_lab, fp_eponym

Usage: python3 eval/phi/generate_adversarial23.py --seed N --out FILE [--n ROWS_PER_GROUP]
Needs: pip install faker python-stdnum
"""
import argparse
import json
import random
import urllib.parse

from faker import Faker
from stdnum import luhn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.cn import ric
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar
from stdnum.kr import rrn
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.tr import tckimlik

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
       8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
       14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth",
       19: "nineteenth", 20: "twentieth", 21: "twenty-first", 22: "twenty-second",
       23: "twenty-third", 24: "twenty-fourth", 25: "twenty-fifth", 26: "twenty-sixth",
       27: "twenty-seventh", 28: "twenty-eighth"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]

# Decimal digit zeros of other scripts (UnicodeData.txt, general category Nd).
DIGIT_ZEROS = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x0AE6, 0x1040, 0x1D7CE, 0x1D7EC]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u200e", "\u200f",
             "\u202a", "\u202c", "\u2066", "\u2069", "\u061c"]
DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d", "\u2015"]
SPACES = ["\u00a0", "\u2007", "\u202f", "\u2009", "\u3000", "\u2002"]


def two(n):
    return ONES[n] if n < 20 else TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")


def year_words(y):
    hi, lo = divmod(y, 100)
    return two(hi) + " " + ("oh " + ONES[lo] if 0 < lo < 10 else "hundred" if lo == 0 else two(lo))


def age_words(a):
    if a < 100:
        return two(a)
    rest = a - 100
    return "one hundred" + (" and " + two(rest) if rest else "")


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        Faker.seed(seed)
        self.fk = {loc: Faker(loc) for loc in ["en_US", "en_GB", "zh_CN", "ja_JP", "ko_KR", "ru_RU",
                                               "ar_AA", "hi_IN", "el_GR", "he_IL", "th_TH"]}

    def c(self, xs):
        return self.r.choice(xs)

    # ---- values ----
    def ssn(self):
        a = self.r.randint(1, 665)
        while a == 666:
            a = self.r.randint(1, 899)
        return f"{a:03d}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def phone(self):
        return f"{self.r.randint(2, 9)}{self.r.randint(0, 99):02d}-{self.r.randint(2, 9)}{self.r.randint(0, 99):02d}-{self.r.randint(0, 9999):04d}"

    def name(self):
        f = self.fk["en_US"]
        return f.first_name(), f.last_name()

    def email(self):
        first, last = self.name()
        dom = self.c(["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "mail.example.org"])
        local = self.c([f"{first}.{last}", f"{first[0]}{last}", f"{first}{self.r.randint(1, 99)}",
                        f"{first}_{last}"]).lower()
        return local, dom

    # ---- encodings (each returns text, kind) ----
    def enc_digits(self):
        zero = self.c(DIGIT_ZEROS)
        conv = lambda s: "".join(chr(zero + int(ch)) if ch.isdigit() else ch for ch in s)
        if self.r.random() < 0.5:
            return self.c(["SSN on the intake form: {}", "soc sec {} verified", "patient ssn={}"]).format(conv(self.ssn())), "us_ssn"
        return self.c(["call back at {}", "mobile: {}", "pt phone {} (evenings)"]).format(conv(self.phone())), "phone"

    def enc_invisible(self):
        def sprinkle(s):
            out = []
            for ch in s:
                out.append(ch)
                if self.r.random() < 0.35:
                    out.append(self.c(INVISIBLE))
            return "".join(out)
        k = self.r.randrange(3)
        if k == 0:
            return f"ssn {sprinkle(self.ssn())} on file", "us_ssn"
        if k == 1:
            local, dom = self.email()
            return f"reply to {sprinkle(local + '@' + dom)}", "email"
        first, last = self.name()
        return f"patient {sprinkle(first)} {sprinkle(last)} was discharged", "person_name"

    def enc_dash_space(self):
        d, sp = self.c(DASHES), self.c(SPACES)
        k = self.r.randrange(3)
        if k == 0:
            s = self.ssn().replace("-", self.c([d, sp]))
            return f"SSN{sp}{s}", "us_ssn"
        if k == 1:
            p = self.phone().replace("-", d)
            return f"tel{sp}{p}", "phone"
        # A Luhn-valid 16-digit card grouped by unicode spaces.
        base = "4" + "".join(str(self.r.randint(0, 9)) for _ in range(14))
        card = base + luhn.calc_check_digit(base)
        return "card " + sp.join(card[i:i + 4] for i in range(0, 16, 4)), "payment_card"

    def enc_html(self):
        def ent(s):
            out = []
            for ch in s:
                x = self.r.random()
                if x < 0.3:
                    out.append(f"&#{ord(ch)};")
                elif x < 0.55:
                    out.append(f"&#x{ord(ch):x};")
                elif ch == "@":
                    out.append("&commat;")
                elif ch == ".":
                    out.append("&period;")
                elif ch == "-":
                    out.append(self.c(["&hyphen;", "&dash;", "&#45;"]))
                else:
                    out.append(ch)
            return "".join(out)
        k = self.r.randrange(3)
        if k == 0:
            local, dom = self.email()
            return f"<p>Contact: {ent(local + '@' + dom)}</p>", "email"
        if k == 1:
            return f"<td>SSN</td><td>{ent(self.ssn())}</td>", "us_ssn"
        first, last = self.name()
        return f"<b>Patient:</b> {ent(first)} {ent(last)}", "person_name"

    def enc_percent(self):
        k = self.r.randrange(3)
        if k == 0:
            local, dom = self.email()
            once = urllib.parse.quote(local + "@" + dom, safe="")
            return f"GET /api/v1/lookup?contact={urllib.parse.quote(once, safe='')}", "email"
        if k == 1:
            first, last = self.name()
            return f"/search?patient_name={first}+{last}&ward=4", "person_name"
        once = urllib.parse.quote(self.ssn(), safe="")
        return f"callback?ssn={urllib.parse.quote(once.replace('-', '%2D'), safe='')}", "us_ssn"

    def enc_escape(self):
        def esc(s):
            out = []
            for ch in s:
                x = self.r.random()
                if x < 0.3:
                    out.append(f"\\u{ord(ch):04x}")
                elif x < 0.45:
                    out.append(f"\\x{ord(ch):02x}")
                elif x < 0.55 and ch in "@.-":
                    out.append("\\" + ch)
                else:
                    out.append(ch)
            return "".join(out)
        k = self.r.randrange(3)
        if k == 0:
            local, dom = self.email()
            return f'log: recipient="{esc(local + "@" + dom)}"', "email"
        if k == 1:
            first, last = self.name()
            return f"msg: patient {esc(first)} {esc(last)} admitted", "person_name"
        return f"ssn: {esc(self.ssn())}", "us_ssn"

    def enc_styled(self):
        # Mathematical alphanumerics (bold, italic, sans-serif bold, monospace, double-struck),
        # circled letters, fullwidth letters.
        styles = [(0x1D400, 0x1D41A, 0x1D7CE), (0x1D5D4, 0x1D5EE, 0x1D7EC), (0x1D670, 0x1D68A, 0x1D7F6),
                  (0xFF21, 0xFF41, 0xFF10), (0x24B6, 0x24D0, None)]
        up, lo, dg = self.c(styles)

        def sty(s):
            out = []
            for ch in s:
                if "A" <= ch <= "Z":
                    out.append(chr(up + ord(ch) - 65))
                elif "a" <= ch <= "z":
                    out.append(chr(lo + ord(ch) - 97))
                elif ch.isdigit() and dg:
                    out.append(chr(dg + int(ch)))
                else:
                    out.append(ch)
            return "".join(out)
        if dg and self.r.random() < 0.4:
            return f"SSN {sty(self.ssn())}", "us_ssn"
        first, last = self.name()
        return f"{self.c(['Attending note for', 'Referred by family of', 'Consent signed by'])} {sty(first)} {sty(last)}", "person_name"

    def enc_spaced(self):
        k = self.r.randrange(3)
        if k == 0:
            first, last = self.name()
            return f"name: {' '.join(first)}   {' '.join(last)}", "person_name"
        if k == 1:
            return "S S N : " + " ".join(self.ssn()), "us_ssn"
        first, last = self.name()
        cut = self.r.randint(2, max(2, len(last) - 2))
        return f"Seen today: {first} {last[:cut]}-\n{last[cut:]} (follow-up)", "person_name"

    def enc_joined(self):
        first, last = self.name()
        t = self.c([f"upload_{first.lower()}_{last.lower()}_mri.dcm",
                    f"user {first}{last} logged in",
                    f"owner={first[0].lower()}{first[1:]}{last}",
                    f"{first.lower()}_{last.lower()}@ward7 rota"])
        return t, "person_name"

    def enc_email_words(self):
        local, dom = self.email()
        dl, dd = local.replace(".", " dot "), dom.replace(".", " dot ")
        t = self.c([f"write to {dl} at {dd}", f"email: {local} [at] {dom.replace('.', ' [dot] ')}",
                    f"contact {local} (at) {dom.replace('.', '(dot)')}", f"{local} AT {dom.replace('.', ' DOT ')}",
                    f"mail {local} {{at}} {dom}"])
        return t, "email"

    def enc_words(self):
        if self.r.random() < 0.5:
            a = self.r.randint(90, 112)
            return self.c([f"a {age_words(a)}-year-old woman", f"patient is {age_words(a)} years old",
                           f"aged {age_words(a)}, lives alone"]), "age_over_89"
        y = self.r.randint(1925, 2005)
        d = self.r.randint(1, 28)
        m = self.c(MONTHS)
        return self.c([f"born on the {ORD[d]} of {m} {year_words(y)}",
                       f"date of birth {m} {ORD[d]}, {year_words(y)}",
                       f"DOB: the {ORD[d]} of {m}, {year_words(y)}"]), "person_date"

    # ---- scripts ----
    SCRIPT_NAME = {
        "zh_CN": ["患者{n}今日出院", "联系人：{n}", "{n}先生的检查结果已出"],
        "ja_JP": ["{n}様の予約を確認しました", "患者名：{n}", "担当医は{n}さんです"],
        "ko_KR": ["환자 {n} 님 퇴원", "보호자: {n}", "{n} 씨 검사 결과"],
        "ru_RU": ["пациент {n} выписан", "Ф.И.О.: {n}", "со слов {n}"],
        "ar_AA": ["المريض {n} غادر المستشفى", "الاسم: {n}"],
        "hi_IN": ["मरीज़ {n} को छुट्टी दी गई", "नाम: {n}"],
        "el_GR": ["ασθενής {n} εξήλθε", "Ονοματεπώνυμο: {n}"],
    }
    SCRIPT_CLEAN = {
        "zh_CN": ["系统将于今晚{h}点进行维护", "病房温度{t}度，湿度正常", "血压{a}/{b}毫米汞柱，心率{p}次每分钟", "备份已完成，共{p}个文件"],
        "ja_JP": ["血圧{a}/{b}、脈拍{p}", "システムは{h}時に再起動します", "体温{t}度、異常なし", "処理が完了しました（{p}件）"],
        "ko_KR": ["혈압 {a}/{b}, 맥박 {p}", "시스템 점검이 {h}시에 시작됩니다", "체온 {t}도 정상", "백업 완료: 파일 {p}개"],
        "ru_RU": ["Давление {a}/{b}, пульс {p}", "Резервное копирование завершено", "Температура {t}, без жалоб", "Сервис будет перезапущен в {h}:00"],
        "ar_AA": ["ضغط الدم {a}/{b} والنبض {p}", "تم تحديث النظام بنجاح", "درجة الحرارة {t}"],
        "hi_IN": ["रक्तचाप {a}/{b}, नाड़ी {p}", "सिस्टम अपडेट पूरा हुआ", "तापमान {t} डिग्री"],
        "el_GR": ["Αρτηριακή πίεση {a}/{b}, σφύξεις {p}", "Η ενημέρωση ολοκληρώθηκε", "Θερμοκρασία {t}"],
        "he_IL": ["לחץ דם {a}/{b}, דופק {p}", "העדכון הושלם בהצלחה"],
        "th_TH": ["ความดันโลหิต {a}/{b} ชีพจร {p}", "ระบบจะปิดปรับปรุงเวลา {h}:00 น."],
    }

    def script_name(self):
        loc = self.c(sorted(self.SCRIPT_NAME))
        f = self.fk[loc]
        n = f.name()
        return self.c(self.SCRIPT_NAME[loc]).format(n=n), loc

    def script_clean(self):
        loc = self.c(sorted(self.SCRIPT_CLEAN))
        return self.c(self.SCRIPT_CLEAN[loc]).format(
            a=self.r.randint(95, 170), b=self.r.randint(55, 105), p=self.r.randint(48, 130),
            t=round(self.r.uniform(35.5, 39.9), 1), h=self.r.randint(0, 23)), loc

    # ---- national ids (valid per python-stdnum) ----
    def digits(self, n, first="123456789"):
        return self.c(first) + "".join(str(self.r.randint(0, 9)) for _ in range(n - 1))

    def until(self, make, ok):
        for _ in range(10000):
            v = make()
            if ok(v):
                return v
        raise RuntimeError("no valid value")

    def natid_value(self, which):
        r = self.r
        if which == "nhs":
            v = self.until(lambda: self.digits(10, "4679"), nhs.is_valid)
            return self.c([v, f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:3]}-{v[3:6]}-{v[6:]}"]), ["NHS number", "NHS No.", "nhs"]
        if which == "bsn":
            v = self.until(lambda: self.digits(9), bsn.is_valid)
            return self.c([v, f"{v[:4]}.{v[4:6]}.{v[6:]}"]), ["BSN", "burgerservicenummer"]
        if which == "pesel":
            y, m, d = r.randint(1930, 1999), r.randint(1, 12), r.randint(1, 28)
            base = f"{y % 100:02d}{m:02d}{d:02d}{r.randint(0, 9999):04d}"
            return base + pesel.calc_check_digit(base), ["PESEL", "nr PESEL"]
        if which == "dni":
            n = f"{r.randint(0, 99999999):08d}"
            return self.c([n + dni.calc_check_digit(n), n + "-" + dni.calc_check_digit(n)]), ["DNI", "D.N.I."]
        if which == "nie":
            n = self.c("XYZ") + f"{r.randint(0, 9999999):07d}"
            return n + nie.calc_check_digit(n), ["NIE", "número NIE"]
        if which == "nir":
            v = f"{r.randint(1, 2)}{r.randint(30, 99):02d}{r.randint(1, 12):02d}{r.randint(1, 95):02d}{r.randint(1, 990):03d}{r.randint(1, 999):03d}"
            v = v + nir.calc_check_digits(v)
            assert nir.is_valid(v)
            return self.c([v, f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:]}"]), ["NIR", "n° de sécurité sociale", "numéro INSEE"]
        if which == "sin":
            v = self.until(lambda: self.digits(9, "1234567"), sin.is_valid)
            return self.c([v, f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:3]}-{v[3:6]}-{v[6:]}"]), ["SIN", "social insurance number"]
        if which == "cpf":
            v = self.until(lambda: self.digits(11), cpf.is_valid)
            return self.c([v, f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"]), ["CPF", "nº do CPF"]
        if which == "aadhaar":
            v = self.until(lambda: self.digits(12, "23456789"), aadhaar.is_valid)
            return self.c([v, f"{v[:4]} {v[4:8]} {v[8:]}"]), ["Aadhaar", "UIDAI no"]
        if which == "tckimlik":
            v = self.until(lambda: self.digits(11), tckimlik.is_valid)
            return v, ["TC Kimlik No", "T.C. kimlik"]
        if which == "ric":
            base = f"{self.c(['110101', '310104', '110105', '310101'])}{r.randint(1940, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
            v = base + ric.calc_check_digit(base + "0")
            assert ric.is_valid(v)
            return v, ["身份证号", "resident ID"]
        if which == "rrn":
            base = f"{r.randint(40, 99):02d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.choice('12')}{r.randint(0, 16):02d}{r.randint(0, 999):03d}"
            v = base + rrn.calc_check_digit(base)
            if not rrn.is_valid(v):
                return self.natid_value("rrn")
            return f"{v[:6]}-{v[6:]}", ["주민등록번호", "RRN"]
        if which == "idnr":
            v = self.until(lambda: self.digits(11), idnr.is_valid)
            return self.c([v, f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}"]), ["Steuer-IdNr", "Steuerliche Identifikationsnummer"]
        raise ValueError(which)

    WHICH = ["nhs", "bsn", "pesel", "dni", "nie", "nir", "sin", "cpf", "aadhaar", "tckimlik", "ric", "rrn", "idnr"]

    def natid(self):
        which = self.c(self.WHICH)
        v, labels = self.natid_value(which)
        t = self.c(["{l}: {v}", "{l} {v} (verified)", "Patient {l} is {v}", "Update {l} to {v} in the chart"])
        return t.format(l=self.c(labels), v=v), which

    # ---- negatives ----
    def fp_yaml(self):
        svc = self.c(["intake", "billing", "relay", "witness", "audit", "scheduler", "ingest"])
        lines = self.c([
            [f"name: {svc}-worker", f"image: registry.local/{svc}:{self.r.randint(1, 9)}.{self.r.randint(0, 30)}.{self.r.randint(0, 99)}", f"replicas: {self.r.randint(1, 9)}"],
            ["spec:", f"  serviceAccountName: {svc}-sa", f"  priorityClassName: {self.c(['high', 'low', 'batch'])}", f"  terminationGracePeriodSeconds: {self.r.randint(10, 120)}"],
            ["logging:", f"  level: {self.c(['info', 'debug', 'warn'])}", f"  owner: team-{svc}", f"  retention_days: {self.r.randint(7, 400)}"],
            ["database:", f"  host: db-{self.r.randint(1, 9)}.internal", f"  port: {self.r.choice([5432, 6432, 3306])}", f"  pool_max: {self.r.randint(4, 64)}"],
            [f"- job: {svc}-nightly", f"  schedule: \"{self.r.randint(0, 59)} {self.r.randint(0, 23)} * * *\"", "  concurrencyPolicy: Forbid"],
        ])
        return "\n".join(lines)

    def uuid(self):
        return "%08x-%04x-4%03x-%x%03x-%012x" % (self.r.getrandbits(32), self.r.getrandbits(16), self.r.getrandbits(12),
                                                 self.r.choice([8, 9, 10, 11]), self.r.getrandbits(12), self.r.getrandbits(48))

    def fp_uuid(self):
        ulid = "".join(self.c("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(26))
        return self.c([f"request {self.uuid()} accepted", f"span_id={self.uuid()} parent={self.uuid()}",
                       f"idempotency-key: {self.uuid().upper()}", f"event {ulid} stored in partition {self.r.randint(0, 63)}",
                       f"tenant/{self.uuid()}/objects/{self.uuid()}.json"])

    def fp_digest(self):
        h = lambda n: "".join(self.c("0123456789abcdef") for _ in range(n))
        b64 = "".join(self.c("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43)) + "="
        return self.c([f"sha256:{h(64)}", f"commit {h(40)} merged", f"md5={h(32)} size={self.r.randint(100, 99999)}",
                       f"etag \"{h(32)}\"", f"signature: {b64}", f"blob {h(12)}..{h(12)} (fast-forward)"])

    def fp_lab(self):
        r = self.r
        return self.c([f"Hb {r.uniform(8, 17):.1f} g/dL (ref 12.0-15.5)", f"eGFR {r.randint(15, 120)} mL/min/1.73m2",
                       f"K+ {r.uniform(2.8, 6.1):.1f} mmol/L [3.5-5.1]", f"TSH {r.uniform(0.1, 9):.2f} mIU/L, ref 0.4-4.0",
                       f"WBC {r.uniform(2, 18):.1f} x10^9/L", f"INR {r.uniform(0.8, 4.5):.1f}, target 2.0-3.0",
                       f"HbA1c {r.uniform(4.5, 12):.1f}% ({r.randint(25, 110)} mmol/mol)", f"CRP <{r.randint(1, 10)} mg/L",
                       f"glucose {r.randint(60, 400)} mg/dL fasting", f"PLT {r.randint(20, 600)} 10*3/uL"])

    def fp_eponym(self):
        return self.c(["transferred to Johns Hopkins Hospital", "GCS {g} (Glasgow Coma Scale)", "Apgar {a} at five minutes",
                       "known Parkinson disease, on levodopa", "Foley catheter removed", "Babinski sign negative bilaterally",
                       "sample sent to the Mayo Clinic laboratory", "Cushing syndrome screen pending", "Hodgkin lymphoma in remission",
                       "Alzheimer disease, moderate stage", "Swan-Ganz catheter in place", "Allen test normal",
                       "referred to Sloan Kettering", "Down syndrome, karyotype confirmed", "Crohn disease flare",
                       "Bell palsy resolving", "Graves disease on methimazole", "Mallory-Weiss tear suspected",
                       "Karolinska Institutet protocol v{v}", "Charité outpatient clinic", "Guy's and St Thomas' referral",
                       "Kaplan-Meier estimate at {m} months", "Fisher exact test p=0.0{p}"]).format(
            g=self.r.randint(3, 15), a=self.r.randint(4, 10), v=self.r.randint(1, 9), m=self.r.randint(6, 60), p=self.r.randint(1, 9))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=60, help="rows per group")
    a = ap.parse_args()
    g = Gen(a.seed)
    rows = []
    for fam in ["enc_digits", "enc_invisible", "enc_dash_space", "enc_html", "enc_percent", "enc_escape",
                "enc_styled", "enc_spaced", "enc_joined", "enc_email_words", "enc_words"]:
        for _ in range(a.n):
            t, k = getattr(g, fam)()
            rows.append({"text": t, "kinds": [k], "group": f"{fam}/{k}", "family": fam})
    for _ in range(a.n * 3):
        t, loc = g.script_name()
        rows.append({"text": t, "kinds": ["person_name"], "group": "script_name/" + loc, "family": "script_name"})
        t, loc = g.script_clean()
        rows.append({"text": t, "kinds": [], "group": "script_clean/" + loc, "family": "script_clean"})
        t, which = g.natid()
        rows.append({"text": t, "kinds": ["national_id"], "group": "natid/" + which, "family": "natid"})
    for fam in ["fp_yaml", "fp_uuid", "fp_digest", "fp_lab", "fp_eponym"]:
        for _ in range(a.n * 2):
            rows.append({"text": getattr(g, fam)(), "kinds": [], "group": fam, "family": fam})
    g.r.shuffle(rows)
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {a.out}")


if __name__ == "__main__":
    main()
