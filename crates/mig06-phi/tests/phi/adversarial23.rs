//! Issue 23, second author: the families an independent adversarial set
//! (`eval/phi/generate_adversarial23.py`) found weak, each fixed by a general rule, and the
//! text around timestamps and versions that must stay clean.

use crate::common::det;
use mig06_phi::PhiKind;

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
fn lower_camel_case_joined_names_are_names() {
    fires_all(
        PhiKind::PersonName,
        &[
            "owner=josephFernandez",
            "user melissaSmith logged in",
            "assignee: nicholasHart",
        ],
    );
}

#[test]
fn lower_camel_case_code_identifiers_are_not_names() {
    clean_all(&[
        "maxRetries=5",
        "call getName() then setUp()",
        "userId and sessionToken rotated",
        "isEnabled: true",
    ]);
}

#[test]
fn eponymous_lesions_and_statistical_methods_are_not_persons() {
    clean_all(&[
        "Mallory-Weiss tear suspected",
        "Kaplan-Meier estimate at 30 months",
        "Bland-Altman plot attached",
        "Cox model adjusted for age",
        "Virchow node palpable",
    ]);
}

#[test]
fn steuer_idnr_under_its_official_name_is_a_national_id() {
    fires_all(
        PhiKind::NationalId,
        &[
            "Steuerliche Identifikationsnummer: 65929970489",
            "Identifikationsnummer 65 929 970 489",
        ],
    );
}

#[test]
fn a_sin_under_its_official_name_is_a_national_id() {
    fires_all(
        PhiKind::NationalId,
        &[
            "social insurance number: 130692544",
            "Social Insurance 193 456 787",
        ],
    );
}

#[test]
fn grouped_national_ids_with_short_digit_groups_are_found() {
    // Check-digit-valid NHS number and SIN written in groups of three and four digits:
    // no nine-digit run, fewer than thirteen digits.
    fires_all(
        PhiKind::NationalId,
        &[
            "NHS 943 476 5919",
            "SIN 130 692 544",
            "NHS number 943-476-5919",
        ],
    );
}

#[test]
fn japanese_given_name_with_honorific_after_a_surname_ending_the_previous_word() {
    fires_all(
        PhiKind::PersonName,
        &["担当医は遠藤 さゆりさんです", "患者名：藤原 陽子"],
    );
}

#[test]
fn korean_name_whose_last_syllable_is_a_particle_is_a_name_after_a_person_word() {
    fires_all(PhiKind::PersonName, &["보호자: 김지은", "환자 박하은"]);
}

#[test]
fn cjk_text_without_a_person_stays_clean() {
    clean_all(&[
        "患者于今日出院",
        "システムは3時に再起動します",
        "체온 36.8도 정상",
        "处理完成，共12个文件",
    ]);
}

#[test]
fn timestamps_with_utc_offsets_and_semver_builds_stay_clean() {
    clean_all(&[
        "2025-11-09T10:58:02.108+00:00",
        "ts=2026-08-05T01:54:28+0200 status=ok",
        "registry.internal/app:4.13.91+build.679",
    ]);
}
