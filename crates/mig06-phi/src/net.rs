//! Context rules for network literals: which URLs and IP addresses identify a person.
//!
//! * A terminology or code-system URI (`http://loinc.org`, `http://snomed.info/sct`,
//!   `http://hl7.org/fhir/...`, `urn:oid:...`) is never reported.
//! * A URL is reported when it carries a person: a user's home directory (`/home/x`,
//!   `/Users/x`, `C:\Users\x`, also in `file://` URLs), a `~user` path, userinfo
//!   (`https://user:pw@host`), an identifier in its query string (a query key the key
//!   vocabulary knows, or an id-like key with a value of 4+ digits), or a path segment that
//!   follows a person collection (`/patients/{id}`, `/members/{id}`). Anything else — a
//!   service endpoint — is not.
//! * An IP literal is reported unless it is in a private, loopback, link-local or shared
//!   range (the network plan of a service; documentation ranges count as public) or sits
//!   under an infrastructure key or word; a private address is still reported when the key or text names a
//!   patient, a device, a client or a home. A public address with no infrastructure
//!   context stays reported: its role is unknown, and the rail fails closed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Hosts of terminology and code-system URIs (FHIR terminology, HL7 v2/v3 OIDs, units,
/// drug and device registries).
const TERMINOLOGY_HOSTS: &[&str] = &[
    "loinc.org",
    "snomed.info",
    "hl7.org",
    "terminology.hl7.org",
    "fhir.org",
    "unitsofmeasure.org",
    "nlm.nih.gov",
    "www.nlm.nih.gov",
    "fdasis.nlm.nih.gov",
    "hl7.org.au",
    "dicom.nema.org",
    "www.ama-assn.org",
    "ama-assn.org",
    "www.cms.gov",
    "cms.gov",
    "www.cdc.gov",
    "cdc.gov",
    "id.who.int",
    "who.int",
    "www.whocc.no",
    "ncimeta.nci.nih.gov",
    "ncit.nci.nih.gov",
    "www.iana.org",
    "iana.org",
    "tools.ietf.org",
    "www.rfc-editor.org",
    "www.w3.org",
    "w3.org",
    "ihe.net",
    "www.ihe.net",
    "gs1.org",
    "www.gs1.org",
    "accessgudid.nlm.nih.gov",
    "www.accessdata.fda.gov",
    "ndc.fda.gov",
    "www.hl7.org",
    "build.fhir.org",
    "purl.bioontology.org",
    "purl.obolibrary.org",
    "www.omim.org",
    "identifiers.org",
    "orcid.org",
    "schema.org",
    "opentelemetry.io",
    "json-schema.org",
];

/// Path segments that name a collection of people; the next segment identifies one.
const PERSON_COLLECTIONS: &[&str] = &[
    "patient",
    "patients",
    "person",
    "persons",
    "people",
    "member",
    "members",
    "subscriber",
    "subscribers",
    "beneficiary",
    "beneficiaries",
    "relatedperson",
    "users",
    "user",
    "profile",
    "profiles",
    "customer",
    "customers",
    "client",
    "clients",
    "account",
    "accounts",
    "guarantor",
    "insured",
    "mrn",
    "ssn",
    "dob",
    "home",
    "u",
    "~",
];

/// Query keys that hold an identifier whatever the vocabulary says.
const ID_QUERY_KEYS: &[&str] = &[
    "id",
    "pid",
    "uid",
    "user",
    "userid",
    "user_id",
    "patient",
    "patientid",
    "patient_id",
    "subject",
    "mrn",
    "member",
    "memberid",
    "email",
    "phone",
    "name",
    "q",
    "search",
    "dob",
    "ssn",
    "identifier",
    "person",
    "login",
    "username",
];

/// System accounts whose home directory is not a person's.
const SYSTEM_USERS: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "shared",
    "public",
    "default",
    "runner",
    "ubuntu",
    "ec2-user",
    "app",
    "apps",
    "service",
    "svc",
    "deploy",
    "ci",
    "build",
    "jenkins",
    "git",
    "www-data",
    "nobody",
    "daemon",
    "postgres",
    "mysql",
    "node",
    "user",
    "guest",
    "all users",
    "$user",
    "${user}",
    "{user}",
    "<user>",
    "%username%",
    "$home",
    "${home}",
];

/// Path segments after a person collection that are routes, not a person
/// (`/patients/search`, `/users/me`).
const ROUTE_WORDS: &[&str] = &[
    "search",
    "me",
    "self",
    "new",
    "list",
    "all",
    "count",
    "_search",
    "_history",
    "$everything",
    "metadata",
    "bulk",
    "export",
    "import",
    "login",
    "logout",
    "settings",
    "health",
    "status",
    "v1",
    "v2",
    "api",
];

/// First characters of a route template parameter (`{id}`, `:id`, `<id>`).
const ROUTE_PARAM_OPENERS: [char; 3] = ['{', ':', '<'];

/// First characters of a placeholder that stands for a user (`$USER`, `${user}`,
/// `<user>`, `%USERNAME%`).
const PLACEHOLDER_OPENERS: [char; 4] = ['$', '{', '<', '%'];

/// True when `url` is a terminology or code-system URI.
pub(crate) fn is_terminology(url: &str) -> bool {
    let l = url.trim_start_matches(['"', '\'', '(', '<']);
    if l.len() >= 4 && l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return true;
    }
    let host = host_of(l);
    TERMINOLOGY_HOSTS
        .iter()
        .any(|h| host.eq_ignore_ascii_case(h))
        || host.to_ascii_lowercase().ends_with(".hl7.org")
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    auth.split(':').next().unwrap_or("")
}

/// A user's home directory in a path (`/home/x/`, `/Users/x`, `C:\Users\x`, `~x/`).
pub(crate) fn home_dir_user(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    for marker in [
        "/home/",
        "/users/",
        "\\users\\",
        "/usr/home/",
        "/var/mail/",
        "/u/",
    ] {
        let mut from = 0usize;
        while let Some(p) = lower.get(from..).and_then(|s| s.find(marker)) {
            let start = from + p + marker.len();
            // The path starts here, not after a host name (`registry.example.org/home/x:1`
            // is an image reference, `https://host/home/…` a web page).
            let after_host = lower
                .get(..from + p)
                .and_then(|h| h.chars().last())
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if after_host {
                from = start;
                continue;
            }
            let user: String = lower
                .get(start..)
                .unwrap_or("")
                .chars()
                .take_while(|c| !matches!(c, '/' | '\\' | ' ' | '"' | '\'' | '?' | '#' | ',' | ';'))
                .collect();
            let user = user.trim();
            if user.len() >= 2
                && !SYSTEM_USERS.contains(&user)
                && user.chars().any(|c| c.is_alphabetic())
                && !user.starts_with(PLACEHOLDER_OPENERS)
            {
                return true;
            }
            from = start;
        }
    }
    false
}

/// Decides whether a URL match identifies a person. `query_key_is_phi` reports whether
/// the key vocabulary gives a query key a context.
pub(crate) fn url_identifies(url: &str, query_key_is_phi: &dyn Fn(&str) -> bool) -> bool {
    if is_terminology(url) {
        return false;
    }
    if url
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
        && home_dir_user(url)
    {
        return true;
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (auth, path_q) = match rest.find(['/', '?', '#']) {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    // Userinfo (`user:pw@host`) names an account; a password in it is reported.
    if auth
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
    {
        return true;
    }
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let query = query.split('#').next().unwrap_or("");
    if home_dir_user(path) || path.contains("/~") {
        return true;
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for w in segs.windows(2) {
        if let (Some(a), Some(b)) = (w.first(), w.get(1))
            && PERSON_COLLECTIONS.iter().any(|p| a.eq_ignore_ascii_case(p))
            && person_segment(b)
        {
            return true;
        }
    }
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if v.is_empty() {
            continue;
        }
        let kl = k.to_ascii_lowercase();
        let digits = v.bytes().filter(u8::is_ascii_digit).count();
        if query_key_is_phi(k)
            || (ID_QUERY_KEYS.contains(&kl.as_str())
                && (digits >= 4 || v.contains('@') || v.contains("%40") || looks_like_words(v)))
        {
            return true;
        }
    }
    false
}

/// A path segment after a person collection: an identifier or a name, not a route word
/// (`/patients/search`, `/users/me`).
fn person_segment(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    if ROUTE_WORDS.contains(&l.as_str()) || l.starts_with(ROUTE_PARAM_OPENERS) {
        return false;
    }
    s.len() >= 3
}

fn looks_like_words(v: &str) -> bool {
    v.len() >= 3
        && v.bytes()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, b'+' | b'%' | b'.' | b'-' | b'_'))
        && v.bytes()
            .any(|c| c.is_ascii_uppercase() || c == b'+' || c == b'.')
}

/// True for address ranges that describe a service's own network plan.
pub(crate) fn is_infra_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => infra_v4(a),
        IpAddr::V6(a) => infra_v6(a),
    }
}

fn infra_v4(a: Ipv4Addr) -> bool {
    let [o1, o2, _, _] = a.octets();
    a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || (o1 == 100 && (64..128).contains(&o2))
        || (o1 == 198 && (o2 == 18 || o2 == 19))
        || o1 == 0
        || o1 >= 240
}

fn infra_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    let s0 = s.first().copied().unwrap_or(0);
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80
        || a.to_ipv4_mapped().is_some_and(infra_v4)
}

/// Words that give an IP literal a person's or device's role, and words that make it part
/// of the service's network plan.
const IP_PERSON_WORDS: &[&str] = &[
    "patient",
    "pt",
    "device",
    "home",
    "client",
    "remote",
    "caller",
    "user",
    "subscriber",
    "member",
    "wearable",
    "pump",
    "monitor",
    "cgm",
    "pacemaker",
    "implant",
    "mobile",
    "phone",
    "forwarded",
    "xff",
    "visitor",
    "customer",
    "browser",
    "sensor",
    "transmitter",
    "glucose",
];
const IP_INFRA_WORDS: &[&str] = &[
    "server",
    "upstream",
    "host",
    "node",
    "pod",
    "service",
    "svc",
    "dns",
    "nameserver",
    "resolver",
    "gateway",
    "gw",
    "proxy",
    "lb",
    "loadbalancer",
    "endpoint",
    "peer",
    "listen",
    "bind",
    "cidr",
    "subnet",
    "route",
    "egress",
    "ingress",
    "nat",
    "vip",
    "cluster",
    "backend",
    "target",
    "dst",
    "dest",
    "destination",
    "internal",
    "private",
    "network",
    "net",
    "vpc",
    "allow",
    "allowlist",
    "whitelist",
    "range",
    "ranges",
    "mask",
    "netmask",
    "broker",
    "db",
    "database",
    "redis",
    "kafka",
    "etcd",
    "api",
    "apiserver",
    "kubelet",
    "container",
    "docker",
    "interface",
    "eth",
    "router",
    "ntp",
    "smtp",
    "registry",
    "mirror",
    "replica",
    "primary",
    "leader",
    "follower",
    "master",
    "worker",
    "instance",
    "vm",
    "cloud",
    "tailscale",
    "wireguard",
];

/// True when a key names a person's or device's address (`home_ip`, `client.address`).
pub(crate) fn key_ip_person(key: &str) -> bool {
    crate::keys::key_tokens(key)
        .iter()
        .any(|t| IP_PERSON_WORDS.contains(&t.as_str()))
}

/// Decides whether an IP literal at `start..end` is reported (see the module docs).
pub(crate) fn ip_reported(
    key: Option<&str>,
    text: &str,
    start: usize,
    end: usize,
    ip: std::net::IpAddr,
) -> bool {
    // CIDR notation is a network, not a host.
    let b = text.as_bytes();
    if b.get(end) == Some(&b'/') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut from = start.saturating_sub(48);
    while from > 0 && !text.is_char_boundary(from) {
        from -= 1;
    }
    let window = text.get(from..start).unwrap_or("");
    // A person or device word anywhere before it (or in the key) wins (`home router`);
    // otherwise an infrastructure word makes it part of the network plan.
    let mut role = 0i8;
    for src in [key.unwrap_or(""), window] {
        for t in crate::keys::key_tokens(src) {
            if IP_PERSON_WORDS.contains(&t.as_str()) {
                role = 1;
            } else if role == 0 && IP_INFRA_WORDS.contains(&t.as_str()) {
                role = -1;
            }
        }
    }
    if is_infra_ip(ip) {
        // A private address with no words around it at all has an unknown role: fail
        // closed.
        let alone = key.is_none()
            && !text
                .get(..start)
                .into_iter()
                .chain(text.get(end..))
                .any(|s| s.bytes().any(|c| c.is_ascii_alphabetic()));
        role > 0 || (role == 0 && alone)
    } else {
        role >= 0
    }
}
