//! Per-kind positives, must-not-fire negatives, and a proptest.

use crate::common::det;
use mig06_phi::{Detector, PhiKind};
use proptest::prelude::*;

fn fires(key: Option<&str>, text: &str, kind: PhiKind) {
    let got = det().scan(key, text);
    assert!(
        got.contains(&kind),
        "{kind:?} expected for key={key:?} text={text:?}, got {got:?}"
    );
}

fn clean(key: Option<&str>, text: &str) {
    let got = det().scan(key, text);
    assert!(
        got.is_empty(),
        "nothing expected for key={key:?} text={text:?}, got {got:?}"
    );
}

#[test]
fn ssn() {
    fires(None, "ssn 123-45-6788", PhiKind::Ssn);
    fires(None, "123 45 6788", PhiKind::Ssn);
    fires(Some("ssn"), "123456788", PhiKind::Ssn);
    fires(None, "SS# 123456788", PhiKind::Ssn);
    clean(None, "000-45-6789");
    clean(None, "666-45-6789");
    clean(None, "912-45-6789");
    clean(None, "123-00-6789");
    clean(None, "123-45-0000");
    clean(Some("count"), "123456788");
}

#[test]
fn phone() {
    for t in [
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "+1 415 555 2671",
        "415-555-2671x123",
        "+44 20 7946 0958",
    ] {
        fires(None, t, PhiKind::Phone);
    }
    fires(Some("phone"), "4155552671", PhiKind::Phone);
    clean(None, "115-555-2671");
    clean(Some("ts"), "1718000000");
    clean(Some("epoch"), "4155552671");
}

#[test]
fn email_url_ip() {
    fires(None, "contact jane.doe@example.org", PhiKind::Email);
    // Issue 12: URLs and IPs are reported by role (see tests/generalise.rs).
    fires(
        None,
        "see https://portal.example.com/patients/123",
        PhiKind::Url,
    );
    fires(None, "www.example.com/profile/jdoe", PhiKind::Url);
    fires(None, "from 203.0.113.20", PhiKind::IpAddress);
    fires(None, "patient device 192.168.1.20", PhiKind::IpAddress);
    fires(None, "client 2001:db8::8a2e:370:7334", PhiKind::IpAddress);
    fires(Some("device_ip"), "fe80::1", PhiKind::IpAddress);
    clean(None, "see https://portal.example.com/p/123");
    clean(None, "upstream 10.1.2.3:8080");
    clean(Some("host"), "rail-0.prod.internal");
    clean(Some("version"), "1.2.3");
    clean(None, "12:30:45");
    clean(None, "std::io::Read");
    clean(None, "300.1.2.3");
}

#[test]
fn address_zip() {
    fires(None, "123 Main Street", PhiKind::StreetAddress);
    fires(
        None,
        "0704 Holland Extension Apt. 038",
        PhiKind::StreetAddress,
    );
    fires(None, "PO Box 1234", PhiKind::StreetAddress);
    fires(Some("address"), "12 elm st", PhiKind::StreetAddress);
    fires(None, "62704-1234", PhiKind::ZipCode);
    fires(None, "Springfield, IL 62704", PhiKind::ZipCode);
    fires(Some("zip"), "62704", PhiKind::ZipCode);
    // Postcodes with an inner dash (BR, PL) still count under a postcode key ...
    fires(Some("postal_code"), "01310-100", PhiKind::ZipCode);
    fires(Some("zip"), "00-950", PhiKind::ZipCode);
    // ... but the year of a timestamp next to a postcode key is not a postcode.
    clean(None, "ts=2026-01-02T03:04:05Z zip=\"pending\" attempt=2");
    clean(Some("count"), "62704");
    clean(None, "retries 3 left");
}

#[test]
fn person_dates() {
    fires(Some("dob"), "1984-03-05", PhiKind::PersonDate);
    fires(
        Some("admitted_at"),
        "2024-03-05T10:00:00Z",
        PhiKind::PersonDate,
    );
    fires(Some("birthDate"), "19840305", PhiKind::PersonDate);
    fires(None, "DOB 03/05/1984", PhiKind::PersonDate);
    fires(None, "born March 5, 1984", PhiKind::PersonDate);
    fires(None, "discharged on 4/5/2023 to home", PhiKind::PersonDate);
    clean(Some("ts"), "2024-03-05T10:00:00Z");
    clean(Some("created_at"), "2024-03-05T10:00:00.123+02:00");
    clean(None, "event=encounter ts=2024-03-05T10:00:00Z");
    clean(None, "doc_type=discharge_summary ts=2024-03-05T10:00:00Z");
}

#[test]
fn ages() {
    for t in [
        "age 93",
        "93-year-old",
        "93 y/o",
        "93yo F",
        "aged 91",
        "Age: 97",
        "95 years old",
    ] {
        fires(None, t, PhiKind::AgeOver89);
    }
    fires(Some("age"), "94", PhiKind::AgeOver89);
    clean(None, "age 45");
    clean(None, "45-year-old");
    clean(None, "max-age=3600");
    clean(Some("count"), "93");
}

#[test]
fn anchored_ids() {
    fires(None, "MRN: 00123456", PhiKind::Mrn);
    fires(Some("mrn"), "7654321", PhiKind::Mrn);
    fires(None, "member id XYZ123456789", PhiKind::HealthPlanId);
    fires(Some("member_id"), "W123456789", PhiKind::HealthPlanId);
    fires(None, "account number 0012345678", PhiKind::AccountNumber);
    fires(None, "DL# A1234567", PhiKind::DriversLicense);
    fires(None, "license plate 7ABC123", PhiKind::LicensePlate);
    fires(None, "S/N: 8F3K2L9Q1Z", PhiKind::DeviceSerial);
    fires(Some("imei"), "356938035643809", PhiKind::DeviceSerial);
    clean(Some("patient_ref"), "subj_7k3m9q2x4w8r5t6v");
    clean(Some("member_ref"), "01HZX3K5M8N9P2Q4R6S7T8V9W0");
    clean(Some("account_id"), "123e4567-e89b-12d3-a456-426614174000");
    clean(Some("license"), "Apache-2.0");
}

#[test]
fn checksummed() {
    fires(None, "4111 1111 1111 1111", PhiKind::PaymentCard);
    fires(None, "378282246310005", PhiKind::PaymentCard);
    fires(None, "GB82 WEST 1234 5698 7654 32", PhiKind::Iban);
    fires(None, "DE89370400440532013000", PhiKind::Iban);
    fires(None, "NPI 1234567893", PhiKind::Npi);
    fires(Some("npi"), "1234567893", PhiKind::Npi);
    fires(None, "DEA AB1234563", PhiKind::Dea);
    fires(None, "1EG4-TE5-MK73", PhiKind::Mbi);
    fires(None, "MBI 1EG4TE5MK73", PhiKind::Mbi);
    clean(None, "4111 1111 1111 1112");
    clean(None, "DE89370400440532013001");
    clean(None, "NPI 1234567890");
    clean(None, "AB1234564");
    clean(Some("ts_ms"), "1718000000000");
}

#[test]
fn names() {
    for t in [
        "jane.doe",
        "jane_doe42",
        "jdoe_smith",
        "Jane Doe",
        "Doe, Jane",
        "JANE DOE",
        "Jane Q. Doe",
        "Dr. Smith",
        "created_by=john.smith",
        "j.kowalski",
    ] {
        fires(None, t, PhiKind::PersonName);
    }
    fires(Some("first_name"), "Jane", PhiKind::PersonName);
    for t in [
        "discharge_summary",
        "operator_explicit",
        "draft_note",
        "permit-operator-draft",
        "will_retry",
        "mark_complete",
        "grant_access",
        "Discharge Summary",
        "rose_gold",
    ] {
        clean(None, t);
    }
}

#[test]
fn must_not_fire_metadata() {
    let cases: &[(Option<&str>, &str)] = &[
        (Some("request_id"), "123e4567-e89b-12d3-a456-426614174000"),
        (Some("id"), "01HZX3K5M8N9P2Q4R6S7T8V9W0"),
        (
            Some("digest"),
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        (
            Some("root"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        (Some("nonce"), "q83vEjRWeJq83vEjRWeJ"),
        (Some("ts"), "2025-01-02T03:04:05Z"),
        (Some("version"), "v2.10.0-rc.1"),
        (Some("policy_id"), "permit-operator-draft"),
        (Some("doc_type"), "discharge_summary"),
        (Some("host"), "db-primary.us-east-1.rds.amazonaws.com"),
        (Some("epoch"), "1718000000"),
        (Some("count"), "42"),
        (Some("subject"), "subj_7k3m9q2x4w8r5t6v"),
        (None, "created_at"),
        (
            None,
            "ts=2025-01-02T03:04:05Z decision=permit policy=permit-operator-draft subject=subj_7k3m9q2x4w8r5t6v latency_ms=12",
        ),
    ];
    for (k, t) in cases {
        clean(*k, t);
    }
}

#[test]
fn codes_round_trip_and_sorted() {
    for k in PhiKind::ALL {
        assert_eq!(PhiKind::from_code(k.code()), Some(k));
    }
    let got = det().scan(None, "jane.doe@example.com 123-45-6788");
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(got, sorted);
}

#[test]
fn debug_and_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
    let dbg = format!("{:?}", det());
    assert!(dbg.starts_with("Detector"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn scan_never_panics_and_never_echoes(s in "\\PC{0,80}", k in proptest::option::of("[a-z_]{0,12}")) {
        // The result is a fixed vocabulary of codes (the `mig06 scan` contract's own
        // no-echo test is in the binary): it can contain the input only if the input is
        // itself made of that vocabulary.
        let kinds = det().scan(k.as_deref(), &s);
        let out = kinds.iter().map(|k| k.code()).collect::<Vec<_>>().join(",");
        if s.len() >= 4 && s.chars().any(|c| !c.is_ascii_lowercase() && c != '_') {
            prop_assert!(!out.contains(&s));
        }
    }

    #[test]
    fn scan_ascii_digits_mix(s in "[0-9a-zA-Z .:/@_+-]{0,60}") {
        let _ = det().scan(None, &s);
        let _ = det().scan(Some("dob"), &s);
    }
}
