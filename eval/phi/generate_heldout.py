#!/usr/bin/env python3
"""Second, independent PHI evaluation generator for mig06-phi.

Written from the description of the held-out corpora in issue 12 (orchestration metadata:
log lines, JSON fragments, key=value strings, OpenTelemetry attributes, access logs,
Kubernetes events, decision logs, CSV, YAML, SQL fragments, FHIR and HL7 fragments; other
locales and scripts), not from the detector's rules or the first generator's templates.
Values come from Faker with many locales (`pip install faker`), not from the detector's
lexicon; identifiers with check digits are computed here.

Each line: {"text": str, "kinds": [code], "group": str, "fmt": str}. No "key": every
value sits inside text, as in a log pipeline. Positives carry one intended kind; negatives
carry [] and are machine metadata in the same formats.

Usage: python3 eval/phi/generate_heldout.py --seed 7 --out /tmp/heldout.jsonl [--per-kind 120]
"""
import argparse
import json
import random
import string
import uuid

from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL",
           "sv_SE", "da_DK", "fi_FI", "cs_CZ", "tr_TR", "en_IN", "en_CA", "en_AU", "ru_RU",
           "el_GR", "ja_JP", "zh_CN", "ko_KR", "hi_IN", "vi_VN", "ar_AA", "he_IL", "uk_UA"]
LATIN = LOCALES[:17]


def luhn_digit(ds):
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class G:
    def __init__(self, seed):
        self.r = random.Random(seed)
        Faker.seed(seed)
        self.fk = {loc: Faker(loc) for loc in LOCALES}
        for i, f in enumerate(self.fk.values()):
            f.seed_instance(seed * 1000 + i)

    def c(self, xs):
        return self.r.choice(xs)

    def d(self, n):
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def f(self, latin=True):
        return self.fk[self.c(LATIN if latin else LOCALES)]

    def ts(self):
        return f"2026-{self.r.randint(1, 12):02d}-{self.r.randint(1, 28):02d}T{self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}.{self.d(3)}Z"

    def ulid(self):
        return "".join(self.r.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(26))

    def hexs(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    # ---------------- containers: put (key, value) into one of the held-out formats
    def embed(self, key, value, phrase=None):
        r = self.r
        svc = self.c(["intake-svc", "scheduler", "claims-worker", "fhir-gw", "notes-api", "router"])
        tid = self.hexs(32)
        forms = {
            "logfmt": lambda: f"ts={self.ts()} level=info svc={svc} {key}={value} trace_id={tid}",
            "logfmt_q": lambda: f'time="{self.ts()}" level=warn msg="validation failed" {key}="{value}" attempt={r.randint(1, 5)}',
            "colon": lambda: f"{self.ts()} INFO [{svc}] {key}: {value}",
            "json_str": lambda: json.dumps({"ts": self.ts(), "svc": svc, key: value}),
            "json_nested": lambda: json.dumps({"event": "request", "input": {"args": {key: value}}}),
            "dotted": lambda: f"decision.input.{key}={value} decision.result=deny policy=pol_{self.hexs(8)}",
            "otel": lambda: f'span.name=POST /v1/attempts attributes={{"app.{key}": "{value}", "http.status_code": 422}}',
            "yaml": lambda: f"spec:\n  patient:\n    {key}: {value}\n  priority: routine",
            "csv": lambda: f"attempt_id,svc,{key},latency\n{self.ulid()},{svc},{value},{r.randint(1, 900)}ms",
            "sql": lambda: f"UPDATE patients SET {key} = '{value}' WHERE id = {r.randint(1, 99999)};",
            "sql_where": lambda: f"SELECT * FROM encounters WHERE {key}='{value}' LIMIT 10",
            "k8s": lambda: f"Warning  FailedMount  pod/intake-{self.hexs(5)}  annotation {key}={value} rejected",
            "args": lambda: f"args.{key}={value}",
            "decision": lambda: json.dumps({"decision_id": str(uuid.UUID(int=r.getrandbits(128))), "input": {key: value}, "result": False}),
        }
        if phrase:
            forms["phrase"] = lambda: phrase
            forms["phrase_log"] = lambda: f"{self.ts()} note=\"{phrase}\""
        name = self.c(list(forms))
        return forms[name](), name

    # ---------------- values by kind: (keys, value, phrase or None)
    def ssn(self):
        s = self.fk["en_US"].ssn()
        a, b, c = s.split("-")
        v = self.c([s, f"{a} {b} {c}", f"{a}.{b}.{c}", a + b + c])
        return self.c(["ssn", "SSN", "social_security_number", "patient_ssn", "ssn_no", "member.ssn", "taxId"]), v, \
            self.c([f"SSN {v} on file", f"social security no. {v}", None])

    def phone(self):
        fk = self.f()
        v = self.c([fk.phone_number(), fk.phone_number(), f"{self.r.randint(2, 9)}{self.d(2)}-{self.d(4)}",
                    f"+{self.r.randint(30, 49)} {self.d(3)} {self.d(3)} {self.d(4)}"])
        key = self.c(["phone", "home_phone", "pt_phone_no", "mobile", "cell", "telecom.value", "contactPhone",
                      "tel", "emergency_contact_phone", "phoneNumber", "fax"])
        return key, v, self.c([f"please reach her at {v} after 5", f"call {v} re: results", f"left vm on {v}", None])

    def email(self):
        fk = self.f()
        v = fk.email()
        return self.c(["email", "contact_email", "user.email", "notify"]), v, f"sent copy to {v}"

    def street_address(self):
        fk = self.f()
        v = fk.street_address().replace("\n", ", ")
        return self.c(["address", "home_address", "addr_line1", "patient.address.line", "street", "residence"]), v, \
            self.c([f"lives at {v}", f"ship kit to {v}", None])

    def us_zip(self):
        fk = self.f()
        v = fk.postcode()
        return self.c(["zip", "postal_code", "zipcode", "address.postalCode", "postcode"]), v, None

    def person_date(self):
        fk = self.f()
        dt = fk.date_of_birth(minimum_age=1, maximum_age=88)
        fmt = self.c(["%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%b-%Y", "%d %B %Y", "%b %d, %Y",
                      "%Y%m%d", "%d %b %Y", "%B %d, %Y"])
        v = dt.strftime(fmt)
        key = self.c(["dob", "birthDate", "date_of_birth", "pt_dob", "admit_date", "discharge_dt", "date_of_death",
                      "visit_date", "service_date", "birth_dt", "DOB"])
        return key, v, self.c([f"DOB {v}", f"born {v}", f"admitted on {v}", f"discharged {v}", None])

    def age_over_89(self):
        a = self.r.randint(90, 109)
        return self.c(["age", "patient_age", "age_years"]), str(a), self.c([f"{a} y/o female", f"{a}-year-old male", f"aged {a}"])

    def mrn(self):
        v = self.c([self.d(8), f"{self.d(2)}-{self.d(4)}-{self.d(2)}", f"E{self.d(7)}", f"MRN{self.d(6)}", self.d(10)])
        return self.c(["mrn", "MRN", "medical_record_number", "chart_no", "patient_id", "pt_mrn", "medRecNum"]), v, \
            self.c([f"MRN: {v}", f"chart #{v}", None])

    def health_plan_id(self):
        v = self.c([f"{''.join(self.r.choice(string.ascii_uppercase) for _ in range(3))}{self.d(9)}",
                    f"W{self.d(9)}", f"{self.d(3)}{self.r.choice(string.ascii_uppercase)}{self.d(5)}",
                    f"{self.r.choice(string.ascii_uppercase)}{self.d(2)}-{self.d(6)}"])
        return self.c(["member_id", "subscriber_id", "memberNo", "insurance_id", "policy_number", "coverage.subscriberId",
                       "medicaid_id"]), v, self.c([f"member id {v}", None])

    def account_number(self):
        v = self.c([self.d(10), self.d(12), f"{self.d(4)}-{self.d(6)}", self.fk["en_GB"].bban()])
        return self.c(["account_number", "acct_no", "args.account_number", "billing_account", "bank_account"]), v, \
            self.c([f"acct {v} past due", None])

    def payment_card(self):
        v = self.f().credit_card_number()
        return self.c(["card", "cc_number", "payment.card"]), v, f"card ending charged {v}"

    def iban(self):
        v = self.f().iban()
        return self.c(["iban", "bank.iban"]), v, f"refund to {v}"

    def _npi(self):
        base = [self.r.choice([1, 2])] + [self.r.randint(0, 9) for _ in range(8)]
        cd = luhn_digit([8, 0, 8, 4, 0] + base)
        return "".join(map(str, base + [cd]))

    def us_npi(self):
        n = self._npi()
        v = self.c([n, f"{n[:4]}-{n[4:7]}-{n[7:]}"])
        return self.c(["npi", "provider_npi", "rendering_npi", "attending.npi"]), v, f"NPI {v}"

    def us_dea(self):
        l2 = self.r.choice("ABCDEFGHJKLMPRSTUX") + self.r.choice(string.ascii_uppercase)
        ds = [self.r.randint(0, 9) for _ in range(6)]
        cd = (ds[0] + ds[2] + ds[4] + 2 * (ds[1] + ds[3] + ds[5])) % 10
        v = l2 + "".join(map(str, ds)) + str(cd)
        return self.c(["dea", "prescriber_dea"]), v, f"DEA# {v}"

    def us_mbi(self):
        A = "ACDEFGHJKMNPQRTUVWXY"
        N = string.digits
        v = (self.r.choice("123456789") + self.r.choice(A) + self.r.choice(A + N) + self.r.choice(N) +
             self.r.choice(A) + self.r.choice(A + N) + self.r.choice(N) + self.r.choice(A) + self.r.choice(A) +
             self.r.choice(N) + self.r.choice(N))
        return self.c(["mbi", "medicare_id"]), v, f"Medicare MBI {v}"

    def drivers_license(self):
        L = string.ascii_uppercase
        v = self.c([f"{self.r.choice(L)}{self.d(7)}",  # CA
                    f"{self.r.choice(L)}{self.d(3)}-{self.d(3)}-{self.d(2)}-{self.d(3)}-{self.d(1)}",  # FL
                    f"{self.r.choice(L)}{self.d(3)}-{self.d(4)}-{self.d(4)}",  # IL
                    f"{self.d(3)} {self.d(3)} {self.d(3)}",  # NY
                    self.d(8),  # TX
                    f"{''.join(self.r.choice(L) for _ in range(5))}{self.r.choice(L)}{self.r.choice(L)}{self.d(3)}{self.r.choice(L)}{self.r.choice(L)}",  # WA
                    f"{self.r.choice(L)}{self.d(12)}",  # WI/MN-like
                    ])
        return self.c(["drivers_license", "dl_number", "driverLicenseNo", "license_no", "pt_dl"]), v, \
            self.c([f"DL {v} scanned at check-in", f"driver's license {v}", None])

    def license_plate(self):
        v = self.f().license_plate()
        return self.c(["license_plate", "vehicle_plate", "plate"]), v, f"parked, plate {v}"

    def device_serial(self):
        gtin = self.d(14)
        v = self.c([f"(01){gtin}(17){self.d(6)}(10){self.d(6)}(21){self.d(8)}", f"01{gtin}17{self.d(6)}21{self.d(6)}",
                    f"{self.r.randint(1, 9)}{self.r.choice(string.ascii_uppercase)}{self.d(4)}",
                    f"SN{self.d(9)}", self.d(15)])
        return self.c(["device_serial", "udi", "transmitter_id", "imei", "pump_serial", "device.serialNumber",
                       "cgm_transmitter"]), v, self.c([f"transmitter {v} paired", f"implant serial {v}", None])

    def ip_address(self):
        fk = self.f()
        v = self.c([fk.ipv4_public(), fk.ipv4_private(), fk.ipv6()])
        return self.c(["patient_device_ip", "client_ip", "home_ip", "device.address", "remote_addr"]), v, \
            self.c([f"patient pump reported from {v}", f"home monitor at {v} offline", None])

    def url(self):
        fk = self.f()
        user = fk.user_name()
        first = fk.first_name().lower()
        last = fk.last_name().lower().replace(" ", "-")
        v = self.c([f"https://portal.{fk.domain_name()}/patients/{first}-{last}/chart",
                    f"file:///home/{user}/Downloads/labs.pdf", f"file:///C:/Users/{user}/Documents/referral.docx",
                    f"https://{fk.domain_name()}/records?patient_id={self.d(7)}&view=full",
                    f"https://{fk.domain_name()}/~{user}/notes.html",
                    f"https://{fk.domain_name()}/api/v2/search?mrn={self.d(8)}"])
        return self.c(["url", "link", "referrer", "source_url", "attachment"]), v, f"uploaded from {v}"

    def person_name(self):
        fk = self.f(latin=self.r.random() < 0.7)
        first, last = fk.first_name(), fk.last_name()
        v = self.c([f"{first} {last}", f"{last}, {first}", fk.name(), last, first])
        key = self.c(["patient_name", "name", "pt_name", "family", "given", "nok_name", "emergency_contact",
                      "guarantor_name", "subscriber.name", "authorName"])
        return key, v, self.c([f"per {last}'s daughter, pt refused", f"spoke with {first} {last} re: discharge",
                               f"daughter {first} will pick up", f"{first} {last} called back", None])

    KINDS = ["ssn", "phone", "email", "street_address", "us_zip", "person_date", "age_over_89", "mrn",
             "health_plan_id", "account_number", "payment_card", "iban", "us_npi", "us_dea", "us_mbi",
             "drivers_license", "license_plate", "device_serial", "ip_address", "url", "person_name"]
    CODE = {"ssn": "us_ssn"}

    def positive(self, kind):
        key, value, phrase = getattr(self, kind)()
        if self.r.random() < 0.15 and kind in ("person_name", "phone", "person_date", "mrn"):
            return self.hl7(kind, value), "hl7"
        if self.r.random() < 0.1 and kind in ("person_name", "person_date", "phone", "street_address", "us_zip"):
            return self.fhir(kind, value), "fhir"
        text, fmt = self.embed(key, value, phrase if self.r.random() < 0.3 else None)
        return text, fmt

    def hl7(self, kind, v):
        ts = self.ts().replace("-", "").replace(":", "").replace("T", "")[:14]
        msh = f"MSH|^~\\&|EPIC|HOSP|MIG06|RAIL|{ts}||ADT^A08|{self.d(8)}|P|2.5.1"
        fields = [""] * 20
        if kind == "person_name":
            fields[5] = v.replace(", ", "^").replace(" ", "^")
        elif kind == "person_date":
            fields[7] = self.fk["en_US"].date_of_birth().strftime("%Y%m%d")
        elif kind == "phone":
            fields[13] = v
        elif kind == "mrn":
            fields[3] = f"{v}^^^HOSP^MR"
        pid = "PID|1|" + "|".join(fields[2:])
        return f"{msh}\r{pid}"

    def fhir(self, kind, v):
        if kind == "person_name":
            parts = v.replace(",", "").split()
            res = {"resourceType": "Patient", "name": [{"family": parts[-1], "given": parts[:-1] or parts}]}
        elif kind == "person_date":
            res = {"resourceType": "Patient", "birthDate": self.fk["en_US"].date_of_birth().isoformat()}
        elif kind == "phone":
            res = {"resourceType": "Patient", "telecom": [{"system": "phone", "value": v, "use": "home"}]}
        elif kind == "street_address":
            res = {"resourceType": "Patient", "address": [{"line": [v], "country": "DE"}]}
        else:
            res = {"resourceType": "Patient", "address": [{"postalCode": v}]}
        return f"fhir.resource={json.dumps(res)}"

    # ---------------- negatives: machine metadata in the same formats
    def negative(self):
        r = self.r
        fk = self.fk["en_US"]
        svc = self.c(["intake-svc", "scheduler", "claims-worker", "fhir-gw", "notes-api", "billing", "audit-sink"])
        ip_priv = fk.ipv4_private()
        forms = [
            lambda: f"ts={self.ts()} level=info svc={svc} event=encounter status=ok latency_ms={r.randint(1, 900)}",
            lambda: f"ts={self.ts()} level=debug upstream={ip_priv}:{r.choice([443, 8080, 5432, 6379])} retries={r.randint(0, 3)}",
            lambda: json.dumps({"trace_id": self.hexs(32), "span_id": self.hexs(16), "service.name": svc,
                                "http.route": "/v1/attempts/{id}", "http.status_code": r.choice([200, 201, 409, 422])}),
            lambda: f'{ip_priv} - - [{r.randint(1, 28):02d}/Oct/2026:13:55:{r.randint(10, 59)} +0000] "GET /healthz HTTP/1.1" 200 {r.randint(2, 99)} "-" "kube-probe/1.29"',
            lambda: f"Normal  Scheduled  pod/{svc}-{self.hexs(10)}-{self.hexs(5)}  Successfully assigned default/{svc}-{self.hexs(5)} to node-{r.randint(1, 40)}",
            lambda: f"Normal  Pulled  Container image \"registry.local/{svc}:v{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)}\" already present on machine",
            lambda: json.dumps({"decision_id": str(uuid.UUID(int=r.getrandbits(128))), "path": "mig06/allow",
                                "input": {"action": "draft.discharge_summary", "subject": f"subj_{self.hexs(16)}",
                                          "caller": f"svc_{self.hexs(8)}"}, "result": True}),
            lambda: f"attempt_id,trigger,doc_type,outcome,duration_ms\n{self.ulid()},manual,discharge_summary,COMPLETED,{r.randint(10, 999)}",
            lambda: f"server:\n  listen: 0.0.0.0:{r.choice([8406, 8443])}\n  upstream: http://{ip_priv}:{r.randint(1024, 9999)}/v1\n  cidr: 10.{r.randint(0, 255)}.0.0/16",
            lambda: f"SELECT patient_id, dob, ssn FROM patients WHERE tenant_id = ? AND created_at > ?",
            lambda: f"ALTER TABLE members ADD COLUMN home_phone VARCHAR({r.choice([20, 32])});",
            lambda: json.dumps({"resourceType": "Observation", "status": "final", "code": {"coding": [
                {"system": "http://loinc.org", "code": f"{r.randint(1000, 99999)}-{r.randint(0, 9)}", "display": "Glucose"}]},
                "subject": {"reference": f"Patient/{uuid.UUID(int=r.getrandbits(128))}"}}),
            lambda: json.dumps({"system": "http://snomed.info/sct", "code": str(r.randint(10 ** 6, 10 ** 9))}),
            lambda: f"medication.code=ndc:{self.d(5)}-{self.d(4)}-{self.d(2)} route=oral",
            lambda: f"NDC {self.d(5)}-{self.d(4)}-{self.d(2)} dispensed qty={r.randint(1, 90)}",
            lambda: f"MSH|^~\\&|MIG06|RAIL|EHR|HOSP|{self.ts()[:10].replace('-', '')}||ACK^A08|{self.d(8)}|P|2.5.1",
            lambda: f"otel.resource service.name={svc} host.name=ip-10-{r.randint(0, 255)}-{r.randint(0, 255)}-{r.randint(0, 255)} k8s.pod.uid={uuid.UUID(int=r.getrandbits(128))}",
            lambda: f"dns: nameserver {fk.ipv4_private()} search svc.cluster.local",
            lambda: f"GET https://api.internal.example/v1/attempts/{self.ulid()}?include=steps 200",
            lambda: f"https://hl7.org/fhir/R4/patient.html#{self.c(['birthDate', 'telecom', 'address'])}",
            lambda: f"ssn=*** dob=<redacted> mrn=[masked] outcome=ABORTED_PHI_DETECTED",
            lambda: f"key=dob type=date required=true",
            lambda: f"field={self.c(['patient_name', 'home_phone', 'member_id', 'date_of_birth'])} error=missing",
            lambda: f"sha256={self.hexs(64)} size={r.randint(100, 10 ** 6)}",
            lambda: f"build=v{r.randint(1, 3)}.{r.randint(0, 20)}.{r.randint(0, 40)} commit={self.hexs(40)} go=1.22.{r.randint(0, 9)}",
            lambda: f"rate_limit window=60s limit={r.randint(100, 5000)} remaining={r.randint(0, 100)}",
            lambda: f"connect to postgres://{svc}@db.internal:5432/mig06 pool=10",
            lambda: f"policy=mig06.{self.c(['discharge', 'referral', 'summary'])}.v{r.randint(1, 9)} effect=permit rule={r.randint(1, 40)}",
            lambda: f"queue=attempts partition={r.randint(0, 31)} offset={r.randint(10 ** 5, 10 ** 9)} lag={r.randint(0, 500)}",
            lambda: f"gc pause={r.randint(1, 50)}ms heap={r.randint(100, 4000)}MiB goroutines={r.randint(10, 900)}",
            lambda: f"node_ip={ip_priv} pod_cidr=10.244.{r.randint(0, 255)}.0/24 mtu=1450",
            lambda: json.dumps({"code": self.c(["AMB", "IMP", "EMER"]), "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode"}),
            lambda: f"vaccine cvx={r.randint(1, 230)} lot_status=released expires_in_days={r.randint(1, 700)}",
            lambda: f"cron schedule='{r.randint(0, 59)} {r.randint(0, 23)} * * *' job=purge-expired-drafts",
        ]
        return self.c(forms)()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-kind", type=int, default=120)
    ap.add_argument("--negatives", type=int, default=3000)
    a = ap.parse_args()
    g = G(a.seed)
    rows = []
    for kind in g.KINDS:
        code = g.CODE.get(kind, kind)
        for _ in range(a.per_kind):
            text, fmt = g.positive(kind)
            rows.append({"text": text, "kinds": [code], "group": code, "fmt": fmt})
    for _ in range(a.negatives):
        rows.append({"text": g.negative(), "kinds": [], "group": "negative"})
    g.r.shuffle(rows)
    with open(a.out, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {a.out}")


if __name__ == "__main__":
    main()
