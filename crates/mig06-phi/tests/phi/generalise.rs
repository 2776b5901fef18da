//! Issue 12: key context inside text, key vocabulary by parts, international formats,
//! names beyond one census, and context rules for URLs and IP addresses.

use crate::common::det;
use mig06_phi::PhiKind;
use proptest::prelude::*;

// Failure messages name the case index, never the scanned text.
fn fires_all(kind: PhiKind, cases: &[&str]) {
    for (i, t) in cases.iter().enumerate() {
        let got = det().scan(None, t);
        assert!(
            got.contains(&kind),
            "{kind:?} expected for case {i}, got {got:?}"
        );
    }
}

fn clean_all(cases: &[&str]) {
    for (i, t) in cases.iter().enumerate() {
        let got = det().scan(None, t);
        assert!(got.is_empty(), "nothing expected for case {i}, got {got:?}");
    }
}

/// Key spellings (prefixes, suffixes, abbreviations, camelCase, dotted paths) for a kind,
/// with a value of that kind that has no label of its own.
const KEYED: &[(&str, &str, PhiKind)] = &[
    ("account_number", "00123456789", PhiKind::AccountNumber),
    ("acct_no", "4410023456", PhiKind::AccountNumber),
    ("args.account_number", "00123456789", PhiKind::AccountNumber),
    ("input.dob", "1961-04-09", PhiKind::PersonDate),
    (
        "decision.input.birthDate",
        "09/04/1961",
        PhiKind::PersonDate,
    ),
    ("pt_dob", "09-Apr-1961", PhiKind::PersonDate),
    ("admitDate", "12.03.2024", PhiKind::PersonDate),
    ("service_date", "2024-03-12", PhiKind::PersonDate),
    ("home_phone", "555-0134", PhiKind::Phone),
    ("pt_phone_no", "030 1234567", PhiKind::Phone),
    ("telecom.value", "(0231) 987575", PhiKind::Phone),
    ("mrn", "00-1234-56", PhiKind::Mrn),
    ("medRecNum", "E1234567", PhiKind::Mrn),
    ("chart_number", "77012345", PhiKind::Mrn),
    ("member_id", "XGH123456789", PhiKind::HealthPlanId),
    ("subscriberId", "W123456789", PhiKind::HealthPlanId),
    ("policy_number", "A12-345678", PhiKind::HealthPlanId),
    (
        "drivers_license",
        "F255-921-50-094-0",
        PhiKind::DriversLicense,
    ),
    ("dl_number", "DOEJM**123AB", PhiKind::DriversLicense),
    ("driverLicenseNo", "123 456 789", PhiKind::DriversLicense),
    ("transmitter_id", "8G1234", PhiKind::DeviceSerial),
    ("device.serialNumber", "SN123456789", PhiKind::DeviceSerial),
    ("postal_code", "10115", PhiKind::ZipCode),
    ("zip", "221917", PhiKind::ZipCode),
    ("ssn", "123456788", PhiKind::Ssn),
    ("tax_id", "123456788", PhiKind::Ssn),
    ("provider_npi", "1234-567-893", PhiKind::Npi),
    ("patient_name", "Borromini", PhiKind::PersonName),
    ("family", "Okonkwo-Adeyemi", PhiKind::PersonName),
    ("home_address", "Hauptstraße 12", PhiKind::StreetAddress),
];

/// Ways a key and its value are written inside a string.
fn render(syntax: usize, key: &str, value: &str) -> String {
    match syntax % 9 {
        0 => format!("{key}={value}"),
        1 => format!(
            "ts=2026-01-02T03:04:05Z level=info {key}=\"{value}\" trace_id=4bf92f3577b34da6a3ce929d0e0e4736"
        ),
        2 => format!("{key}: {value}"),
        3 => format!("{{\"event\":\"intake\",\"{key}\":\"{value}\"}}"),
        4 => format!("msg=\"rejected\" {key}='{value}' attempt=2"),
        5 => format!("spec:\n  {key}: {value}\n  priority: routine"),
        6 => format!("UPDATE t SET {key} = '{value}' WHERE id = 7;"),
        7 => format!("attempt_id,{key},latency\n01HZX3K5M8N9P2Q4R6S7T8V9W0,{value},12ms"),
        _ => format!("{{\"input\":{{\"args\":{{\"{key}\":\"{value}\"}}}}}}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A value under any PHI key spelling, in any of the key/value syntaxes, is reported
    /// as its kind.
    #[test]
    fn keyed_value_in_any_syntax_is_flagged(i in 0..KEYED.len(), syntax in 0usize..9, upper in any::<bool>()) {
        let (key, value, kind) = KEYED[i];
        let key = if upper && syntax != 7 { key.to_ascii_uppercase() } else { key.to_owned() };
        let text = render(syntax, &key, value);
        let got = det().scan(None, &text);
        prop_assert!(got.contains(&kind), "case {} syntax {} upper {}: got {:?}", i, syntax, upper, got);
    }

    /// A key name alone, or with a machine value (enum code, ULID, UUID, subj_ id, digest,
    /// masked value), is not PHI.
    #[test]
    fn key_names_alone_are_not_flagged(i in 0..KEYED.len(), syntax in 0usize..9, m in 0usize..7) {
        let key = KEYED[i].0;
        let machine = ["encounter", "discharge_summary", "01HZX3K5M8N9P2Q4R6S7T8V9W0",
            "123e4567-e89b-12d3-a456-426614174000", "subj_7k3m9q2x4w8r5t6v", "***",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"][m];
        let text = render(syntax, key, machine);
        let got = det().scan(None, &text);
        prop_assert!(got.is_empty(), "case {} syntax {} machine {}: got {:?}", i, syntax, m, got);
        let bare = det().scan(None, key);
        prop_assert!(bare.is_empty(), "key {} alone: got {:?}", i, bare);
    }
}

#[test]
fn key_names_and_machine_metadata_stay_clean() {
    clean_all(&[
        "event=encounter",
        "doc_type=discharge_summary status=COMPLETED",
        "SELECT patient_id, dob, ssn FROM patients WHERE tenant_id = ?",
        "ALTER TABLE members ADD COLUMN home_phone VARCHAR(20);",
        "field=date_of_birth error=missing",
        "ssn=*** dob=<redacted> mrn=[masked] outcome=ABORTED_PHI_DETECTED",
        "service.name=intake-svc host.name=ip-10-1-2-3 k8s.pod.uid=123e4567-e89b-12d3-a456-426614174000",
        "queue=attempts partition=3 offset=1234567 lag=12",
        "cloud.account.id=123456789012 cloud.region=eu-west-1",
        "process.pid=48213 thread.id=17",
        "build=v1.2.3 commit=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    ]);
}

#[test]
fn international_formats() {
    fires_all(PhiKind::Ssn, &["ssn 123.45.6788", "SSN: 123 45 6788"]);
    fires_all(
        PhiKind::PersonDate,
        &[
            "DOB 09-Apr-1961",
            "born 9 April 1961",
            "dob: 09.04.1961",
            "geb. 09.04.1961",
            "DOB Apr 9, 1961",
        ],
    );
    fires_all(
        PhiKind::Phone,
        &[
            "please reach her at 555-0134",
            "call 030 1234567 re results",
        ],
    );
    fires_all(PhiKind::Npi, &["NPI 1234-567-893"]);
    fires_all(
        PhiKind::StreetAddress,
        &[
            "lives at Hauptstraße 12, 10115 Berlin",
            "Kerkstraat 5",
            "12 rue de la Paix",
            "Via Roma 10",
            "Calle Mayor 5",
        ],
    );
    fires_all(PhiKind::ZipCode, &["SW1A 1AA", "K1A 0B1"]);
    fires_all(
        PhiKind::DeviceSerial,
        &[
            "udi=(01)00844588003288(17)141120(10)7654321D(21)10987654",
            "transmitter id 8G1234",
        ],
    );
    fires_all(
        PhiKind::Url,
        &[
            "file:///home/jdoe/notes.txt",
            "C:\\Users\\maria.garcia\\Documents\\x.pdf",
        ],
    );
    fires_all(PhiKind::Iban, &["refund to DE89370400440532013000"]);
}

#[test]
fn names_beyond_one_census() {
    fires_all(
        PhiKind::PersonName,
        &[
            "per Okafor's daughter, pt refused",
            "spoke with José Müller re: discharge",
            "daughter Ingrid will pick up",
            "note: Zoë Kowalczyk called",
            "patient_name=\"Björk Guðmundsdóttir\"",
            "{\"name\": \"\\u0418\\u0432\\u0430\\u043d\"}",
            "guarantor=Иван Петров",
            "caregiver 王小明",
        ],
    );
}

#[test]
fn urls_and_ips_by_role() {
    // A person in the URL, an identifier in the query, a home directory: reported.
    fires_all(
        PhiKind::Url,
        &[
            "https://portal.example.org/patients/jane-doe/chart",
            "https://records.example.org/view?patient_id=1234567",
            "https://example.org/~jdoe/notes.html",
            "file:///Users/jane.smith/Downloads/labs.pdf",
        ],
    );
    // Code systems, terminology and service endpoints: not reported.
    clean_all(&[
        "{\"system\":\"http://loinc.org\",\"code\":\"2345-7\"}",
        "{\"system\":\"http://snomed.info/sct\",\"code\":\"44054006\"}",
        "https://hl7.org/fhir/R4/patient.html#birthDate",
        "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "GET https://api.internal.example/v1/attempts/01HZX3K5M8N9P2Q4R6S7T8V9W0?include=steps 200",
        "connect to postgres://intake@db.internal:5432/mig06 pool=10",
        "medication.code=ndc:12345-6789-01 route=oral",
        "NDC 12345-6789-01 dispensed",
    ]);
    // The service's network plan: not reported; a patient's device or home: reported.
    clean_all(&[
        "upstream=10.2.3.4:8080 retries=0",
        "node_ip=172.16.4.9 pod_cidr=10.244.3.0/24",
        "nameserver 192.168.0.1",
        "10.0.0.7 - - [10/Oct/2026:13:55:36 +0000] \"GET /healthz HTTP/1.1\" 200 2",
    ]);
    fires_all(
        PhiKind::IpAddress,
        &[
            "patient pump reported from 192.168.1.23",
            "home_ip=10.0.0.23",
            "203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] \"GET /portal HTTP/1.1\" 200 2",
            "client_ip=81.2.69.160",
        ],
    );
}

#[test]
fn hl7_fields_give_context() {
    let msg = "MSH|^~\\&|EPIC|HOSP|MIG06|RAIL|20260307||ADT^A08|1|P|2.5.1\rPID|1||77012345^^^HOSP^MR||GREMESE^ANNA||19610409|F|||Via Roma 10^^Roma||0612345678";
    let got = det().scan(None, msg);
    for k in [
        PhiKind::Mrn,
        PhiKind::PersonName,
        PhiKind::PersonDate,
        PhiKind::Phone,
    ] {
        assert!(
            got.contains(&k),
            "{k:?} expected in the PID segment, got {got:?}"
        );
    }
    clean_all(&["MSH|^~\\&|MIG06|RAIL|EHR|HOSP|20260307||ACK^A08|12345678|P|2.5.1"]);
}
