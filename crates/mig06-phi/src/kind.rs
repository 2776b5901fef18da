//! The identifier kinds the detector reports, with their stable codes.
//!
//! The codes are the only thing the detector ever returns about a text (the rail writes
//! them to its audit records and `mig06 scan` prints them), so they are a closed enum with
//! a fixed string per variant: adding a kind is a deliberate change of the vocabulary on
//! the wire, never a side effect of adding a pattern.

/// An identifier kind the detector reports. Codes are stable strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhiKind {
    /// US Social Security number (SSA area/group/serial rules).
    Ssn,
    /// Telephone or fax number (NANP rules, or international E.164 `+<cc>…`).
    Phone,
    /// Email address.
    Email,
    /// Street address or PO box.
    StreetAddress,
    /// US ZIP code: ZIP+4 always, 5-digit ZIP with context (key or `ST 12345`).
    ZipCode,
    /// A date that belongs to a person (birth, admission, discharge, death, service).
    PersonDate,
    /// Age over 89.
    AgeOver89,
    /// Medical record number (context-anchored).
    Mrn,
    /// Health plan beneficiary / member id (context-anchored).
    HealthPlanId,
    /// Bank or other account number (context-anchored).
    AccountNumber,
    /// Payment card number (Luhn, issuer prefix and length).
    PaymentCard,
    /// International bank account number (ISO 13616 mod 97).
    Iban,
    /// US National Provider Identifier (Luhn with the 80840 prefix, with context).
    Npi,
    /// US DEA registration number (checksum).
    Dea,
    /// US Medicare Beneficiary Identifier (CMS layout).
    Mbi,
    /// Driver's licence number (context-anchored).
    DriversLicense,
    /// Vehicle licence plate (context-anchored).
    LicensePlate,
    /// Device serial number or IMEI/UDI (context-anchored).
    DeviceSerial,
    /// IPv4 or IPv6 address literal.
    IpAddress,
    /// Web URL.
    Url,
    /// Person name (lexicon plus shape).
    PersonName,
    /// National identity or social-insurance number with a published layout or check
    /// digit (NHS number, BSN, PESEL, DNI/NIE, codice fiscale, Steuer-IdNr, NIR, SIN, CPF,
    /// Aadhaar, TC Kimlik, PRC resident id, RRN).
    NationalId,
    /// Passport number (context-anchored) or a passport machine-readable zone.
    Passport,
    /// Vehicle identification number (ISO 3779; North American check digit).
    Vin,
    /// Individual taxpayer numbers other than the SSN: ITIN, and EIN with context.
    TaxId,
    /// Encounter, visit, admission or case number (context-anchored).
    EncounterId,
    /// MAC address of a person's device.
    MacAddress,
    /// Biometric or full-face photograph identifier (context-anchored).
    BiometricId,
    /// Geographic coordinates precise enough to locate a home.
    GeoLocation,
}

impl PhiKind {
    /// Every kind, in sort order.
    pub const ALL: [PhiKind; 29] = [
        Self::Ssn,
        Self::Phone,
        Self::Email,
        Self::StreetAddress,
        Self::ZipCode,
        Self::PersonDate,
        Self::AgeOver89,
        Self::Mrn,
        Self::HealthPlanId,
        Self::AccountNumber,
        Self::PaymentCard,
        Self::Iban,
        Self::Npi,
        Self::Dea,
        Self::Mbi,
        Self::DriversLicense,
        Self::LicensePlate,
        Self::DeviceSerial,
        Self::IpAddress,
        Self::Url,
        Self::PersonName,
        Self::NationalId,
        Self::Passport,
        Self::Vin,
        Self::TaxId,
        Self::EncounterId,
        Self::MacAddress,
        Self::BiometricId,
        Self::GeoLocation,
    ];

    /// Stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Ssn => "us_ssn",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::StreetAddress => "street_address",
            Self::ZipCode => "us_zip",
            Self::PersonDate => "person_date",
            Self::AgeOver89 => "age_over_89",
            Self::Mrn => "mrn",
            Self::HealthPlanId => "health_plan_id",
            Self::AccountNumber => "account_number",
            Self::PaymentCard => "payment_card",
            Self::Iban => "iban",
            Self::Npi => "us_npi",
            Self::Dea => "us_dea",
            Self::Mbi => "us_mbi",
            Self::DriversLicense => "drivers_license",
            Self::LicensePlate => "license_plate",
            Self::DeviceSerial => "device_serial",
            Self::IpAddress => "ip_address",
            Self::Url => "url",
            Self::PersonName => "person_name",
            Self::NationalId => "national_id",
            Self::Passport => "passport",
            Self::Vin => "vin",
            Self::TaxId => "tax_id",
            Self::EncounterId => "encounter_id",
            Self::MacAddress => "mac_address",
            Self::BiometricId => "biometric_id",
            Self::GeoLocation => "geo_location",
        }
    }

    /// Parses a stable code back into a kind.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind's bit in the detector's internal kind set.
    pub(crate) fn bit(self) -> u32 {
        1u32 << (self as u32)
    }
}

/// A set of kinds, one bit each: the detector accumulates its findings here, because the
/// same kind is usually found by several rules and only the set is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KindSet(u32);

impl KindSet {
    /// Adds `kind`.
    pub(crate) fn insert(&mut self, kind: PhiKind) {
        self.0 |= kind.bit();
    }

    /// Adds every kind of `other`.
    pub(crate) fn extend(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// The kinds in the set, in sort order.
    pub(crate) fn to_vec(self) -> Vec<PhiKind> {
        PhiKind::ALL
            .into_iter()
            .filter(|k| self.0 & k.bit() != 0)
            .collect()
    }
}
