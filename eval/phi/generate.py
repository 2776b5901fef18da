#!/usr/bin/env python3
"""Generates the labelled mig06-phi evaluation set (JSONL).

Each line: {"text": str, "key": str (optional), "kinds": [codes], "group": str}
  * positives carry exactly the kind they were built for (other kinds the same text
    happens to contain, e.g. a name inside an email, are not scored as errors);
  * negatives carry "kinds": [] and are realistic machine metadata.
"group" is a finer label for reporting (e.g. person_name/handle vs person_name/text).

Usage: python3 eval/phi/generate.py --seed 1 --out eval/phi/set.jsonl [--per-kind 300]
Requires: pip install faker
"""
import argparse
import base64
import json
import random
import string
import uuid

from faker import Faker

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MBI_ALPHA = "ACDEFGHJKMNPQRTUVWXY"


def luhn_check_digit(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        Faker.seed(seed)
        self.f = Faker("en_US")
        self.intl = {loc: Faker(loc) for loc in ("de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT")}
        for i, fk in enumerate(self.intl.values()):
            fk.seed_instance(seed * 100 + i)

    # ---------- helpers
    def pick(self, xs):
        return self.r.choice(xs)

    def digits(self, n):
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def wrap(self, v, labels=("", ), free=()):
        """Embed a value in a metadata-like string or a short free text."""
        r = self.r
        forms = [
            lambda: v,
            lambda: f"{self.pick(labels)}{v}" if labels else v,
            lambda: f"event=intake.update field_value={self.pick(labels)}{v} src=form",
            lambda: f"[{self.ts()}] note: {self.pick(labels)}{v}",
            lambda: f"{self.pick(labels)}{v} (verified)",
        ]
        if free:
            forms += [lambda: self.pick(free).format(v=v)] * 3
        return r.choice(forms)()

    def ts(self):
        d = self.f.date_time_between(start_date="-3y", end_date="now")
        frac = self.r.choice(["", f".{self.digits(3)}", f".{self.digits(6)}"])
        tz = self.r.choice(["Z", "+00:00", "-05:00", "+02:00"])
        return d.strftime("%Y-%m-%dT%H:%M:%S") + frac + tz

    def ulid(self):
        return "01" + "".join(self.r.choice(CROCKFORD) for _ in range(24))

    def b32(self, n):
        return "".join(self.r.choice("0123456789abcdefghjkmnpqrstvwxyz") for _ in range(n))

    def uuid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def hexs(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    # ---------- positives
    def ssn(self):
        s = self.f.ssn()
        a, g, sr = s.split("-")
        fmt = self.r.random()
        if fmt < 0.45:
            return self.wrap(s, ("ssn=", "SSN: ", "ref "), ("patient SSN {v} on file", "social security number {v}", "{v} verified by clerk")), None
        if fmt < 0.6:
            return self.wrap(f"{a} {g} {sr}", ("SSN ", "ssn: "), ("SSN is {v}",)), None
        if fmt < 0.8:
            return f"{a}{g}{sr}", self.pick(["ssn", "patient_ssn", "socialSecurity", "SSN"])
        return self.pick([f"SSN {a}{g}{sr}", f"ssn={a}{g}{sr}", f"social security no {a}{g}{sr}", f"SS# {a}{g}{sr}"]), None

    def nanp(self):
        while True:
            a = str(self.r.randint(2, 9)) + self.digits(2)
            if a[1:] != "11":
                break
        e = str(self.r.randint(2, 9)) + self.digits(2)
        return a, e, self.digits(4)

    def phone(self):
        r = self.r.random()
        if r < 0.8:
            a, e, l = self.nanp()
            v = self.pick([
                f"({a}) {e}-{l}", f"({a}){e}-{l}", f"{a}-{e}-{l}", f"{a}.{e}.{l}", f"{a} {e} {l}",
                f"+1 {a} {e} {l}", f"+1-{a}-{e}-{l}", f"1-{a}-{e}-{l}", f"+1{a}{e}{l}",
                f"{a}-{e}-{l}x{self.digits(3)}", f"001-{a}-{e}-{l}", f"+1 ({a}) {e}-{l}",
            ])
            if self.r.random() < 0.15:
                return f"{a}{e}{l}", self.pick(["phone", "mobile_phone", "telephone", "faxNumber", "cell"])
            if self.r.random() < 0.1:
                return self.pick([f"phone {a}{e}{l}", f"tel: {a}{e}{l}", f"call {a}{e}{l}"]), None
            return self.wrap(v, ("phone=", "tel: ", "mobile "), ("call back at {v}", "pt phone {v}", "reached family at {v} today")), None
        cc = self.pick(["44", "49", "33", "61", "81", "91", "52", "34", "39", "353", "972"])
        body = self.digits(self.r.randint(8, 10))
        v = self.pick([f"+{cc}{body}", f"+{cc} {body[:3]} {body[3:6]} {body[6:]}", f"+{cc}-{body[:4]}-{body[4:]}"])
        return self.wrap(v, ("phone=", "tel "), ("contact {v}",)), None

    def email(self):
        v = self.pick([self.f.email(), self.f.free_email(), self.f.company_email(), self.f.user_name() + "@" + self.f.domain_name()])
        return self.wrap(v, ("email=", "from: ", "reply-to "), ("sent to {v} by mistake", "contact {v}")), None

    def street_address(self):
        r = self.r.random()
        if r < 0.6:
            v = self.f.street_address()
        elif r < 0.75:
            v = self.f.street_address() + ", " + self.f.city()
        elif r < 0.85:
            return self.f.street_address().lower(), self.pick(["address", "home_address", "addressLine1", "street"])
        else:
            v = self.pick([f"PO Box {self.digits(4)}", f"P.O. Box {self.digits(3)}", f"po box {self.digits(5)}"])
        return self.wrap(v, ("addr: ", "address=", "lives at "), ("pt lives at {v}", "mail to {v}")), None

    def us_zip(self):
        z = self.f.zipcode()
        r = self.r.random()
        if r < 0.4:
            return self.wrap(f"{z}-{self.digits(4)}", ("zip ", "postal="), ("zip code {v}",)), None
        if r < 0.7:
            return self.wrap(f"{self.f.city()}, {self.f.state_abbr()} {z}", ("", "loc=")), None
        if r < 0.85:
            return z, self.pick(["zip", "zip_code", "postalCode", "postal_code"])
        return self.pick([f"zip {z}", f"ZIP: {z}", f"postal code {z}"]), None

    def date_str(self, d):
        return self.pick([
            d.strftime("%Y-%m-%d"), d.strftime("%m/%d/%Y"), d.strftime("%-m/%-d/%Y"), d.strftime("%m/%d/%y"),
            d.strftime("%B %-d, %Y"), d.strftime("%b %d %Y"), d.strftime("%-d %B %Y"), d.strftime("%m-%d-%Y"),
            d.strftime("%Y-%m-%dT%H:%M:%SZ"), d.strftime("%d.%m.%Y"), d.strftime("%Y/%m/%d"),
        ])

    def person_date(self):
        kind = self.r.random()
        if kind < 0.45:
            d = self.f.date_of_birth(minimum_age=0, maximum_age=100) if self.r.random() < 0.5 else self.f.date_between("-5y", "today")
            key = self.pick(["dob", "birth_date", "dateOfBirth", "admitted", "admission_date", "discharge_date",
                             "date_of_death", "service_date", "dischargedAt", "admitted_at", "deceased_date",
                             "visit_date", "encounter_date", "procedure_date", "DOB", "birthDate"])
            v = self.date_str(d)
            if "birth" in key.lower() or "dob" in key.lower() and self.r.random() < 0.2:
                v = self.pick([v, d.strftime("%Y%m%d")])
            return v, key
        d = self.f.date_of_birth(minimum_age=0, maximum_age=100)
        v = self.date_str(d)
        return self.pick([
            f"DOB {v}", f"dob: {v}", f"born {v}", f"date of birth {v}", f"admitted {v}", f"admitted on {v}",
            f"discharged {v}", f"discharged on {v} to home", f"died {v}", f"date of death {v}", f"DOS {v}",
            f"date of service {v}", f"seen {v} in clinic", f"Admission: {v}", f"pt born on {v}", f"visit {v}",
            f"note: dob={v}", f"deceased {v}",
        ]), None

    def age_over_89(self):
        a = self.r.randint(90, 112)
        if self.r.random() < 0.15:
            return self.pick([str(a), f"{a} years", f"{a}"]), self.pick(["age", "patient_age", "ageYears"])
        return self.pick([
            f"age {a}", f"Age: {a}", f"aged {a}", f"{a}-year-old", f"{a} year old", f"{a} years old", f"{a} y/o",
            f"{a}yo", f"{a} yo F", f"{a} y.o. male", f"{a}-year-old woman with CHF", f"pt is {a} yrs old",
            f"age={a}", f"a {a} yo M presents", f"{a}yom",
        ]), None

    def mrn(self):
        v = self.pick([self.digits(self.r.randint(6, 10)), "MRN" + self.digits(7), "A" + self.digits(8), "00" + self.digits(6)])
        if self.r.random() < 0.25:
            return v, self.pick(["mrn", "MRN", "medical_record_number", "patientMrn", "chart_number"])
        return self.pick([f"MRN: {v}", f"MRN {v}", f"mrn={v}", f"medical record number {v}", f"Med Rec #{v}",
                          f"chart no. {v}", f"pt MRN {v} merged", f"MRN#{v}", f"patient id: {v}"]), None

    def health_plan_id(self):
        v = self.pick([self.pick(["XYZ", "W", "H", "ABC", "YEH", "JQU"]) + self.digits(self.r.randint(8, 10)),
                       self.digits(9) + self.pick(["A", "01", ""]), "ZG" + self.digits(9)])
        if self.r.random() < 0.25:
            return v, self.pick(["member_id", "memberId", "subscriber_id", "insurance_id", "health_plan_id", "medicaid_id"])
        return self.pick([f"Member ID: {v}", f"member id {v}", f"member# {v}", f"subscriber id {v}", f"insurance id {v}",
                          f"health plan id {v}", f"policy number {v}", f"group number {v}", f"Medicaid ID {v}",
                          f"beneficiary {v}"]), None

    def account_number(self):
        v = self.pick([self.digits(self.r.randint(8, 14)), self.digits(4) + "-" + self.digits(6), self.digits(10)])
        if self.r.random() < 0.25:
            return v, self.pick(["account_number", "bank_account", "acct", "accountNumber", "routing_number"])
        return self.pick([f"account number {v}", f"acct #{v}", f"Acct: {v}", f"account {v}", f"bank account {v}",
                          f"a/c {v}", f"routing number {v}", f"billing acct no. {v}"]), None

    def payment_card(self):
        while True:
            t = self.pick(["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb16", "jcb15", "maestro"])
            n = self.f.credit_card_number(card_type=t)
            if not n.startswith("0604"):
                break
        r = self.r.random()
        if r < 0.3 and len(n) == 16:
            n = " ".join(n[i:i + 4] for i in range(0, 16, 4))
        elif r < 0.45 and len(n) == 16:
            n = "-".join(n[i:i + 4] for i in range(0, 16, 4))
        elif r < 0.55 and len(n) == 15:
            n = f"{n[:4]} {n[4:10]} {n[10:]}"
        return self.wrap(n, ("card=", "cc: ", "paid with "), ("card {v} declined", "charged to {v}")), None

    def iban(self):
        fk = self.r.choice(list(self.intl.values()))
        v = fk.iban()
        if self.r.random() < 0.4:
            v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
        return self.wrap(v, ("iban=", "IBAN ", "refund to "), ("refund to {v} approved",)), None

    def npi_value(self):
        base = [self.r.choice([1, 2])] + [self.r.randint(0, 9) for _ in range(8)]
        cd = luhn_check_digit([8, 0, 8, 4, 0] + base)
        return "".join(map(str, base + [cd]))

    def us_npi(self):
        v = self.npi_value()
        if self.r.random() < 0.3:
            return v, self.pick(["npi", "provider_npi", "attendingNpi", "NPI"])
        return self.pick([f"NPI {v}", f"NPI: {v}", f"npi={v}", f"provider NPI {v}", f"national provider id {v}",
                          f"referring NPI#{v}"]), None

    def us_dea(self):
        first = self.pick("ABFGMPRX")
        second = self.f.last_name()[0].upper() if self.r.random() < 0.9 else "9"
        d = [self.r.randint(0, 9) for _ in range(6)]
        cd = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
        v = first + second + "".join(map(str, d + [cd]))
        return self.wrap(v, ("DEA ", "dea=", "DEA#"), ("prescriber DEA {v}", "DEA number {v} on script")), None

    def us_mbi(self):
        a, n = MBI_ALPHA, string.digits
        an = a + n
        v = (self.pick("123456789") + self.pick(a) + self.pick(an) + self.pick(n) + self.pick(a) + self.pick(an)
             + self.pick(n) + self.pick(a) + self.pick(a) + self.pick(n) + self.pick(n))
        if self.r.random() < 0.3:
            v = f"{v[:4]}-{v[4:7]}-{v[7:]}"
        if self.r.random() < 0.15:
            return v, self.pick(["mbi", "medicare_id", "medicareNumber"])
        return self.wrap(v, ("MBI ", "mbi=", "Medicare "), ("medicare id {v}", "MBI {v} eligible")), None

    def drivers_license(self):
        v = self.pick([self.pick(string.ascii_uppercase) + self.digits(7), self.digits(9), self.digits(8),
                       f"{self.pick(string.ascii_uppercase)}{self.digits(3)}-{self.digits(3)}-{self.digits(2)}-{self.digits(3)}-{self.digits(1)}",
                       self.pick(string.ascii_uppercase) + self.digits(12)])
        if self.r.random() < 0.25:
            return v, self.pick(["drivers_license", "driversLicense", "dl_number", "license_number", "DLN"])
        return self.pick([f"DL# {v}", f"DL {v}", f"driver's license {v}", f"drivers license number {v}",
                          f"driver license: {v}", f"license number {v}", f"DLN {v}"]), None

    def license_plate(self):
        v = self.f.license_plate()
        if self.r.random() < 0.25:
            return v, self.pick(["license_plate", "plate", "vehicle_plate", "licensePlate"])
        return self.pick([f"plate {v}", f"license plate {v}", f"License Plate: {v}", f"vehicle plate {v}",
                          f"plate# {v}", f"car w/ plate {v} in lot"]), None

    def device_serial(self):
        r = self.r.random()
        if r < 0.3:
            body = [self.r.randint(0, 9) for _ in range(14)]
            v = "".join(map(str, body + [luhn_check_digit(body)]))
            lbl = "IMEI "
        else:
            v = self.pick(["SN", "", "DEV-", "PM"]) + "".join(self.r.choice(string.ascii_uppercase + string.digits) for _ in range(self.r.randint(8, 12)))
            if sum(c.isdigit() for c in v) < 3:
                v += self.digits(3)
            lbl = ""
        if self.r.random() < 0.25:
            return v, self.pick(["serial_number", "device_serial", "serialNumber", "imei", "udi"])
        return self.pick([f"{lbl or 'serial '}{v}", f"S/N: {v}", f"serial number {v}", f"device serial {v}",
                          f"pacemaker serial {v}", f"SN {v}", f"IMEI {v}" if lbl else f"implant serial {v}"]), None

    # Issue 12: an IP literal is PHI when it is a public address of unknown role or any
    # address of a patient's device/home/client; a service's private network plan is not.
    def ip_address(self):
        if self.r.random() < 0.5:
            v = self.pick([self.f.ipv4_public(), self.f.ipv6()])
            return self.wrap(v, ("client_ip=", "from ", "ip: "), ("login from {v}", "request from {v} blocked")), None
        v = self.pick([self.f.ipv4_private(), self.f.ipv4_public()])
        return self.wrap(v, ("patient_device_ip=", "home router ", "client ip: "),
                         ("patient device at {v}", "home monitor {v} offline")), None

    # Issue 12: a URL is PHI when it carries a person (name or username in the path, an
    # identifier in the query string, a home directory); a service endpoint is not.
    def url(self):
        fl, ll = self.f.first_name().lower(), self.f.last_name().lower()
        user = self.f.user_name()
        base = self.f.url().rstrip("/")
        v = self.pick([f"{base}/patients/{fl}-{ll}", f"{base}/profile/{user}", f"{base}/chart?patient_id={self.digits(7)}",
                       f"file:///home/{user}/notes.txt", f"{base}/~{user}/", f"{base}/lookup?mrn={self.digits(8)}"])
        return self.wrap(v, ("url=", "see ", "link: "), ("patient portal link {v}", "shared {v}")), None

    def person_name(self):
        first = self.f.first_name()
        last = self.f.last_name()
        fl, ll = first.lower(), last.lower()
        if self.r.random() < 0.6:
            v = self.pick([
                f"{fl}.{ll}", f"{fl}_{ll}", f"{fl}-{ll}", f"{fl}.{ll}{self.digits(2)}", f"{fl[0]}{ll}_{self.f.last_name().lower()}",
                f"{fl[0]}.{ll}", f"{ll}.{fl}", f"user_{fl}_{ll}", f"{fl}.{ll}-laptop", f"{fl}_{ll}_{self.digits(3)}",
                f"{first}.{last}", f"{fl}{self.pick(['.', '_'])}{ll}",
            ])
            text = self.pick([v, f"created_by={v}", f"actor:{v}", f"owner {v}", f"reviewer={v}", f"{v}"])
            return text, None, "handle"
        if self.r.random() < 0.15:
            return self.pick([first, last, f"{first} {last}"]), self.pick(["first_name", "last_name", "patient_name", "fullName", "given_name", "surname"]), "key"
        v = self.pick([f"{first} {last}", f"{last}, {first}", f"{first.upper()} {last.upper()}",
                       f"{first} {self.pick(string.ascii_uppercase)}. {last}", f"Dr. {last}", f"{first} {last}"])
        return self.pick([v, f"note by {v}", f"pt {v} called", f"{v} signed", f"attending: {v}"]), None, "text"

    # ---------- negatives
    WORDS = """access action active admin agent alert allow api apply approve archive audit auth
    backoff batch block bucket buffer build bundle cache call cancel capture cert channel check
    claim client close cluster commit complete config consent context count cursor data decision
    default delete deny deploy detail digest disable discharge document draft edge egress emit
    enable encounter endpoint entry error event evict exec expire explicit export fail fetch field
    filter flag flush forbid gate grant hash header health hold idle implicit ingest input intake
    job key latency lease ledger limit list load lock log manual merge metric mode model note
    notify offset open operator order output owner page partition patch pause payload pending permit
    phase pipeline plan policy poll primary probe process profile prompt proxy publish queue quota
    rail rate read ready reason record redact referral region reject relay release replica replay
    request reset resolve response result retry review revoke role route rule run sample scan schema
    scope seal secret segment send session shard signal sink snapshot source span stage state status
    step stream subject submit summary sync table task template tenant test thread throttle tick
    timeout token topic trace track trigger tx update upload user validate value verify version view
    warn window worker write zone""".split()

    def stdlib_ident(self):
        """Identifiers from Python's standard library: a vocabulary the detector was not tuned on."""
        if not hasattr(self, "_std"):
            import errno, http, logging, os, socket, string as st, ssl, json as js, csv, email as em
            names = set()
            for mod in (os, socket, ssl, logging, st, js, csv, errno, em):
                names.update(n for n in dir(mod) if not n.startswith("_"))
            names.update(s.name for s in http.HTTPStatus)
            self._std = sorted(n for n in names if n.isidentifier())
        n = self.pick(self._std)
        return self.pick([n, n.lower(), n.lower().replace("_", "-"), n.lower().replace("_", ".")])

    def enum_code(self):
        n = self.r.choice([1, 2, 2, 3])
        return self.pick(["_", "_", ".", "-"]).join(self.pick(self.WORDS) for _ in range(n))

    def host(self):
        return self.pick([
            f"{self.pick(self.WORDS)}-{self.pick(self.WORDS)}-{self.hexs(9)}-{self.b32(5)}",
            f"{self.pick(self.WORDS)}-{self.r.randint(0, 20)}.{self.pick(['prod', 'staging', 'dev'])}.internal",
            f"ip-10-{self.r.randint(0, 255)}-{self.r.randint(0, 255)}-{self.r.randint(0, 255)}.ec2.internal",
            f"{self.pick(self.WORDS)}.{self.pick(['us-east-1', 'eu-west-2'])}.{self.pick(['rds', 'svc', 'elb'])}.amazonaws.com",
            f"{self.pick(self.WORDS)}{self.r.randint(1, 9)}.cluster.local",
        ])

    def semver(self):
        v = f"{self.r.randint(0, 12)}.{self.r.randint(0, 40)}.{self.r.randint(0, 99)}"
        return self.pick([v, "v" + v, v + f"-rc.{self.r.randint(1, 5)}", v + f"+build.{self.r.randint(1, 999)}", v + "-beta"])

    def negative(self):
        r = self.r
        gens = [
            lambda: (self.ts(), self.pick(["ts", "created_at", "updated_at", "timestamp", "expires_at", "startedAt", "decided_at", "received_at"])),
            lambda: (str(r.randint(1_500_000_000, 1_900_000_000)), self.pick(["epoch", "ts_s", "iat", "exp", "nbf"])),
            lambda: (str(r.randint(1_500_000_000_000, 1_900_000_000_000)), self.pick(["ts_ms", "epoch_ms", "time"])),
            lambda: (self.uuid(), self.pick(["request_id", "event_id", "id", "correlation_id", "device_id", "patient_ref"])),
            lambda: (self.ulid(), self.pick(["id", "decision_id", "policy_id", "audit_id", "account_id", "member_ref"])),
            lambda: (self.hexs(64), self.pick(["digest", "sha256", "payload_hash", "root"])),
            lambda: ("sha256:" + self.hexs(64), self.pick(["digest", "image_digest", "content_digest"])),
            lambda: (self.hexs(32), "trace_id"),
            lambda: (self.hexs(16), "span_id"),
            lambda: (self.hexs(40), self.pick(["commit", "git_sha"])),
            lambda: (base64.urlsafe_b64encode(r.randbytes(r.choice([16, 24, 32]))).decode().rstrip("="), self.pick(["nonce", "token_id", "key_id", "sig"])),
            lambda: (base64.b64encode(r.randbytes(32)).decode(), self.pick(["signature", "sig", "mac"])),
            lambda: (self.semver(), self.pick(["version", "rail_version", "schema_version", "policy_version"])),
            lambda: (self.pick(["permit", "forbid", "deny", "allow"]) + "-" + "-".join(self.pick(self.WORDS) for _ in range(r.randint(1, 3))), self.pick(["policy_id", "policy", "matched_policy"])),
            lambda: (self.enum_code(), self.pick(["event", "decision", "reason", "status", "kind", "doc_type", "mode", "signal", None])),
            lambda: (self.pick(["discharge_summary", "operator_explicit", "draft_note", "referral_letter", "progress_note", "consent_withdrawn", "phi_gate.pass", "operator_implicit"]), self.pick(["doc_type", "mode", "signal", "kind"])),
            lambda: (self.host(), self.pick(["host", "hostname", "node", "pod", "upstream"])),
            lambda: (f"subj_{self.b32(16)}", self.pick(["subject", "subject_id", "patient_ref", "actor"])),
            lambda: (f"{self.pick(['op', 'svc', 'tnt', 'req', 'sess', 'doc'])}_{self.b32(r.randint(10, 20))}", self.pick(["actor", "tenant", "session", "document"])),
            lambda: (str(r.randint(0, 100000)), self.pick(["count", "retries", "latency_ms", "bytes", "tokens", "duration_ms", "seq"])),
            lambda: (f"{r.randint(1, 999)}ms", "latency"),
            lambda: (f"{r.random():.4f}", self.pick(["score", "ratio", "p99"])),
            lambda: (self.pick(self.WORDS), None),
            lambda: (self.stdlib_ident(), self.pick(["code", "error", "reason", "signal", "op", None])),
            lambda: (self.stdlib_ident(), self.pick(["code", "error", "reason", "signal", "op", None])),
            lambda: (f"{self.stdlib_ident()}.{self.stdlib_ident()}", self.pick(["handler", "event", None])),
            lambda: (self.pick(["created_at", "policy_id", "decision_id", "trace_id", "latency_ms", "rail_version", "subject_ref", "doc_type", "operator_mode", "signal_code", "egress_bytes", "phi_scan_ms"]), None),
            lambda: (self.audit_line(), None),
            lambda: (self.audit_line(), None),
            lambda: (self.audit_line(), None),
            lambda: (f"registry.internal/mig06/{self.pick(self.WORDS)}:{self.semver()}", "image"),
            lambda: (f"/v1/{self.pick(self.WORDS)}/{self.ulid()}/{self.pick(self.WORDS)}", "path"),
            lambda: (f"{self.pick(['mig06', 'rail', 'tlog'])}-{self.pick(self.WORDS)}-{self.hexs(7)}", "build"),
            lambda: (f"{self.pick(self.WORDS).upper()}_{self.pick(self.WORDS).upper()}", "code"),
            lambda: (f"tree_size={r.randint(1, 10**7)} root={self.hexs(64)}", None),
            lambda: (f"{r.randint(2020, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", self.pick(["date", "partition", "day", "log_date", "release_date"])),
            # Issue 12: service endpoints and the service's private network plan are not PHI.
            lambda: (self.pick([self.f.url(), f"https://{self.host()}:8443/v1/{self.pick(self.WORDS)}"]), self.pick(["endpoint", "upstream_url", "webhook", None])),
            lambda: (f"{self.pick(['upstream', 'node_ip', 'listen', 'server'])}={self.f.ipv4_private()}:{r.randint(1024, 9999)}", None),
        ]
        text, key = r.choice(gens)()
        return text, key

    def audit_line(self):
        r = self.r
        parts = [
            f"ts={self.ts()}", f"event={self.enum_code()}", f"decision={self.pick(['permit', 'deny', 'forbid'])}",
            f"policy={self.pick(['permit', 'forbid'])}-{self.pick(self.WORDS)}-{self.pick(self.WORDS)}",
            f"subject=subj_{self.b32(16)}", f"request_id={self.uuid()}", f"trace={self.hexs(32)}",
            f"latency_ms={r.randint(0, 5000)}", f"rail={self.semver()}", f"host={self.host()}",
            f"digest=sha256:{self.hexs(64)}", f"count={r.randint(0, 99999)}", f"id={self.ulid()}",
            f"signal={self.enum_code()}", f"mode={self.pick(['operator_explicit', 'operator_implicit', 'auto'])}",
            f"doc_type={self.pick(['discharge_summary', 'draft_note', 'progress_note', 'referral_letter'])}",
            f"epoch={r.randint(1_600_000_000, 1_800_000_000)}", f"bytes={r.randint(0, 10**6)}",
        ]
        k = r.randint(3, 7)
        sep = self.pick([" ", " ", ", ", " | "])
        return sep.join(r.sample(parts, k))


KINDS = ["us_ssn", "phone", "email", "street_address", "us_zip", "person_date", "age_over_89", "mrn",
         "health_plan_id", "account_number", "payment_card", "iban", "us_npi", "us_dea", "us_mbi",
         "drivers_license", "license_plate", "device_serial", "ip_address", "url", "person_name"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="eval/phi/set.jsonl")
    ap.add_argument("--per-kind", type=int, default=300)
    ap.add_argument("--negatives", type=int, default=8000)
    args = ap.parse_args()
    g = Gen(args.seed)
    rows = []
    for kind in KINDS:
        fn = getattr(g, kind.replace("us_", "") if kind in ("us_ssn",) else kind)
        n = args.per_kind * (3 if kind == "person_name" else 1)
        for _ in range(n):
            res = fn()
            group = kind
            if len(res) == 3:
                text, key, sub = res
                group = f"{kind}/{sub}"
            else:
                text, key = res
            row = {"text": text, "kinds": [kind], "group": group}
            if key is not None:
                row["key"] = key
            rows.append(row)
    for _ in range(args.negatives):
        text, key = g.negative()
        row = {"text": text, "kinds": [], "group": "negative"}
        if key is not None:
            row["key"] = key
        rows.append(row)
    g.r.shuffle(rows)
    with open(args.out, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
