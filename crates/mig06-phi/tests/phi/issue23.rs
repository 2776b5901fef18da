//! Issue 23: PHI under encodings a person reads straight through, names per script (not
//! whole languages), identifiers with checksums or fixed layouts, and text with no
//! person in it (configuration, UUIDs and digests, lab units, eponyms).

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

#[test]
fn encodings_do_not_hide_an_ssn() {
    fires_all(
        PhiKind::Ssn,
        &[
            "SSN: ４１１－２２－３３３３",
            "ssn=411&#45;22&#45;3333",
            "ssn 411\u{2013}22\u{2013}3333",
            "SSN 4\u{200b}11-2\u{200b}2-33\u{00ad}33",
            "SSN: ٤١١-٢٢-٣٣٣٣",
            "SSN 𝟒𝟏𝟏-𝟐𝟐-𝟑𝟑𝟑𝟑",
            "ssn%3D411-22-3333",
            "SSN 4 1 1 - 2 2 - 3 3 3 3",
        ],
    );
}

#[test]
fn encodings_do_not_hide_an_email() {
    fires_all(
        PhiKind::Email,
        &[
            "email: jane%2540example.org",
            "contact jane [at] example [dot] org",
            "mail jane dot doe at example dot org",
            "reply to jane.doe AT example.org",
            "to: jane&#64;example.org",
            "e: j\\u0061ne@example.org",
            "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｏｒｇ",
        ],
    );
}

#[test]
fn encodings_do_not_hide_a_name() {
    fires_all(
        PhiKind::PersonName,
        &[
            "patient J o h n  S m i t h admitted",
            "Patient: J&#111;hn Sm&#105;th",
            "spoke with Jo\u{200b}hn Sm\u{00ad}ith",
            "𝐉𝐨𝐡𝐧 𝐒𝐦𝐢𝐭𝐡 called",
            "Ⓙⓞⓗⓝ Ⓢⓜⓘⓣⓗ called",
            "patient=John+Smith",
            "spoke with J\u{043e}hn Smith",
            "signed John Smi-\nth",
        ],
    );
}

#[test]
fn ages_and_birth_dates_in_words() {
    fires_all(
        PhiKind::AgeOver89,
        &[
            "patient is a ninety-three year old male",
            "aged one hundred and two",
            "ninety-one-year-old woman",
        ],
    );
    fires_all(
        PhiKind::PersonDate,
        &[
            "DOB: March third, nineteen sixty-one",
            "born on the third of March nineteen sixty-one",
        ],
    );
    clean_all(&["retry one of two workers", "twenty replicas scheduled"]);
}

#[test]
fn names_in_their_own_scripts() {
    fires_all(
        PhiKind::PersonName,
        &[
            "患者王小明，男，65岁",
            "姓名：李娜",
            "王先生已出院",
            "佐藤様の予約",
            "김민수 님 혈압 측정",
            "Пациент Иванов Иван Петрович",
            "المريض محمد علي",
            "श्री राम शर्मा",
        ],
    );
}

#[test]
fn a_language_is_not_a_person() {
    clean_all(&[
        "3号病房请注意，体温38.5℃",
        "服务暂时不可用，请稍后重试",
        "予約が確定しました",
        "혈압 120/80 심박수 72",
        "Ошибка подключения к серверу",
        "Давление 120/80, пульс 72, сатурация 97%",
        "ضغط الدم 120/80 والنبض 72",
        "रक्तचाप 120/80, नाड़ी 72",
        "Η υπηρεσία δεν είναι διαθέσιμη",
    ]);
}

#[test]
fn national_ids_with_their_checks() {
    fires_all(
        PhiKind::NationalId,
        &[
            "NHS number 943 476 5870",
            "BSN: 111222333",
            "PESEL 44051401359",
            "DNI 54362315K",
            "codice fiscale RCCMNL83S18D969H",
            "Steuer-ID: 36574261809",
            "NIR 2 95 10 99 126 111 93",
            "SIN 123-456-782",
            "CPF 390.533.447-05",
            "Aadhaar 2341 2341 2346",
            "TC Kimlik No: 17291716060",
            "身份证号码：360426199101010071",
            "주민등록번호 971013-9019902",
        ],
    );
    // The same digits with a wrong check digit, or bare without context, are not.
    for (i, t) in [
        "BSN: 111252333",
        "ref 44051401358",
        "batch 17291716060 queued",
    ]
    .iter()
    .enumerate()
    {
        let got = det().scan(None, t);
        assert!(!got.contains(&PhiKind::NationalId), "case {i}: got {got:?}");
    }
}

#[test]
fn other_identifiers_by_layout_or_label() {
    fires_all(
        PhiKind::Vin,
        &["VIN 1M8GDM9AXKP042788", "car 1M8GDM9AXKP042788"],
    );
    fires_all(PhiKind::TaxId, &["ITIN 912-90-3456", "EIN: 12-3456789"]);
    fires_all(PhiKind::Passport, &["passport number 912803456"]);
    fires_all(
        PhiKind::EncounterId,
        &["encounter id 88123456", "visit number V00123456"],
    );
    fires_all(
        PhiKind::MacAddress,
        &["patient wearable mac 00:1A:2B:3C:4D:5E"],
    );
    fires_all(
        PhiKind::BiometricId,
        &["fingerprint template id FP-0099812"],
    );
    fires_all(
        PhiKind::GeoLocation,
        &["home coordinates 40.71283, -74.00601"],
    );
    clean_all(&[
        "build 1M8GDM9A1KP042788",
        "gateway mac 00:1a:2b:3c:4d:5e on vlan 12",
    ]);
}

#[test]
fn text_with_no_person_stays_clean() {
    clean_all(&[
        "  name: intake-worker",
        "owner: platform-team",
        "author: ci-bot",
        "request 3f2a9c1e-7b4d-4e8a-9c21-5d6f7a8b9c0d completed in 12ms by worker-7",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Hgb 13.5 g/dL (ref 12.0-15.5)",
        "Na 140 mmol/L (135 - 145)",
        "Referred to Johns Hopkins Hospital for evaluation",
        "Consult at Dana Farber Cancer Institute",
        "Glasgow Coma Scale 15",
        "Swan Ganz catheter placed",
    ]);
}

/// 32 ASCII characters in the 8-4-4-4-12 layout.
fn uuid_of(h: &str) -> String {
    let p = |a: usize, b: usize| h.get(a..b).unwrap();
    format!(
        "{}-{}-{}-{}-{}",
        p(0, 8),
        p(8, 12),
        p(12, 16),
        p(16, 20),
        p(20, 32)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A random UUID, bare or in either case, is never an identifier (issue 23: it read as
    /// a payment card about once in 10,000).
    #[test]
    fn a_random_uuid_is_never_phi(bits in any::<u128>(), upper in any::<bool>()) {
        let u = uuid_of(&format!("{bits:032x}"));
        let u = if upper { u.to_ascii_uppercase() } else { u };
        let got = det().scan(None, &u);
        prop_assert!(got.is_empty(), "uuid: got {:?}", got);
    }

    /// A UUID made only of digits (the shape that read as a card) is not a card either.
    #[test]
    fn an_all_digit_uuid_is_not_a_card(d in "[0-9]{32}") {
        let u = uuid_of(&d);
        let got = det().scan(None, &u);
        prop_assert!(!got.contains(&PhiKind::PaymentCard), "got {:?}", got);
    }
}
