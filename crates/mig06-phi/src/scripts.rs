//! Person names written in non-Latin scripts.
//!
//! A letter of another script is not PHI by itself: a Chinese ward message or a Russian
//! system error names no one. A name is found the way a reader finds it: a token that
//! has the shape of a name in its script (a surname from the script's inventory at the
//! start of a short Han or Hangul word; a Cyrillic or Greek word with a surname's
//! morphology or from the surname list next to a given name, a patronymic or initials;
//! an Arabic given name, a nasab `بن`/`ابن`/`بنت`, a kunya `أبو`, a theophoric `عبد`;
//! a Devanagari word before a frequent surname), **and** the context that makes it a
//! name (an honorific or a person word next to it, a label such as `姓名：`, or a
//! person-name key). The inventories come from the `mimesis` locale data (MIT; see
//! `eval/phi/build_scripts.py` and docs/PHI.md); the context words are the ordinary
//! words for patient, name, Mr/Mrs and family members in each language.

use std::collections::HashSet;

use crate::names::FnvBuild;

const SCRIPTS: &str = include_str!("../data/scripts.txt");

/// Which script a character belongs to, for the scripts this module reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Script {
    Han,
    Kana,
    Hangul,
    Cyrillic,
    Greek,
    Arabic,
    Devanagari,
    Other,
}

fn script(c: char) -> Script {
    match u32::from(c) {
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F | 0x3005 => {
            Script::Han
        }
        0x3040..=0x309F | 0x30A1..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Script::Hangul,
        0x0400..=0x052F => Script::Cyrillic,
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Script::Arabic
        }
        0x0900..=0x097F => Script::Devanagari,
        _ => Script::Other,
    }
}

/// Honorifics and person words written after a CJK name (`王先生`, `佐藤様`, `김민수 님`).
const CJK_AFTER: &[&str] = &[
    "先生",
    "女士",
    "小姐",
    "太太",
    "夫人",
    "同志",
    "老师",
    "阿姨",
    "大爷",
    "患者",
    "病人",
    "様",
    "さま",
    "さん",
    "氏",
    "君",
    "くん",
    "ちゃん",
    "殿",
    "님",
    "씨",
    "환자",
    "환자분",
    "보호자",
    "선생님",
    "어르신",
    "군",
    "양",
];

/// Person words and labels written before a CJK name (`患者王小明`, `姓名：李娜`, `환자 김민수`).
const CJK_BEFORE: &[&str] = &[
    "患者",
    "病人",
    "病员",
    "姓名",
    "名字",
    "家属",
    "联系人",
    "监护人",
    "签名",
    "儿子",
    "女儿",
    "丈夫",
    "妻子",
    "母亲",
    "父亲",
    "氏名",
    "名前",
    "保護者",
    "家族",
    "署名",
    "환자",
    "성명",
    "이름",
    "보호자",
    "가족",
    "서명",
    "患者氏名",
    "患者姓名",
    "患者名",
    "환자명",
];

/// Latin person words and labels that make the next non-Latin word a name.
const LATIN_PERSON: &[&str] = &[
    "patient",
    "pt",
    "name",
    "fullname",
    "surname",
    "given",
    "family",
    "mr",
    "mrs",
    "ms",
    "dr",
    "nok",
    "contact",
    "guardian",
    "mother",
    "father",
    "son",
    "daughter",
    "wife",
    "husband",
    "caregiver",
    "guarantor",
    "spouse",
    "partner",
    "relative",
    "sibling",
    "sister",
    "brother",
    "per",
    "attn",
    "dear",
    "named",
    "called",
    "signed",
    "witness",
    "proxy",
    "miss",
    "mx",
];

/// Korean particles that may follow a name inside the same word.
const KO_PARTICLES: &[&str] = &[
    "님", "씨", "은", "는", "이", "가", "을", "를", "의", "에게", "께서", "과", "와", "도", "환자",
];

/// Person words before a Cyrillic, Greek, Arabic or Devanagari name.
const WORD_BEFORE: &[&str] = &[
    "пациент",
    "пациентка",
    "пациента",
    "пациентки",
    "пациенту",
    "больной",
    "больная",
    "больного",
    "фио",
    "гражданин",
    "гражданка",
    "господин",
    "госпожа",
    "г-н",
    "г-жа",
    "пацієнт",
    "пацієнтка",
    "хворий",
    "хвора",
    "піб",
    "пан",
    "пані",
    "ασθενής",
    "ασθενούς",
    "κύριος",
    "κυρία",
    "κ",
    "ονοματεπώνυμο",
    "κυρ",
    "πιб",
    "السيد",
    "السيدة",
    "الاسم",
    "اسم",
    "المريض",
    "المريضة",
    "مريض",
    "مريضة",
    "بیمار",
    "نام",
    "آقای",
    "خانم",
    "جناب",
    "श्री",
    "श्रीमती",
    "सुश्री",
    "कुमारी",
    "डॉ",
    "डॉ.",
    "रोगी",
    "मरीज",
    "मरीज़",
    "नाम",
];

/// Arabic words that introduce a name part: nasab (`بن`, `ابن`, `بنت`) and kunya (`أبو`).
const ARABIC_PARTICLES: &[&str] = &["بن", "ابن", "بنت", "أبو", "ابو", "أبي", "ابي"];

/// Arabic and Persian prepositions, conjunctions and auxiliaries: a name does not start
/// with one (`المريض في حالة مستقرة`: the patient is in a stable condition).
const ARABIC_FUNCTION: &[&str] = &[
    "في", "من", "على", "إلى", "الى", "عن", "مع", "و", "ثم", "هو", "هي", "لا", "لم", "لن", "قد",
    "تم", "يتم", "كان", "كانت", "بعد", "قبل", "حالة", "غير", "در", "از", "به", "با", "که", "را",
    "این", "آن", "است", "شد", "برای", "تا", "هم", "نیز",
];

/// Surname endings of East Slavic (and Georgian, Armenian in Cyrillic) surnames.
const CYR_SUR_ENDS: &[&str] = &[
    "ов",
    "ова",
    "ев",
    "ева",
    "ёв",
    "ёва",
    "ин",
    "ина",
    "ын",
    "ына",
    "ский",
    "ская",
    "цкий",
    "цкая",
    "енко",
    "ук",
    "юк",
    "чук",
    "швили",
    "дзе",
    "ян",
    "янц",
];

/// Patronymic endings (Russian, Ukrainian).
const CYR_PATRONYMIC_ENDS: &[&str] = &[
    "ович",
    "евич",
    "ьич",
    "овна",
    "евна",
    "ична",
    "инична",
    "ївна",
    "івна",
];

/// Greek surname endings.
const GREEK_SUR_ENDS: &[&str] = &[
    "ίδης",
    "ίδου",
    "άκης",
    "άκη",
    "όπουλος",
    "οπούλου",
    "ίου",
    "άτος",
    "έας",
    "ίδη",
];

/// The name inventories.
pub(crate) struct ScriptNames {
    han_sur: HashSet<&'static str, FnvBuild>,
    hangul_sur: HashSet<&'static str, FnvBuild>,
    cyr_first: HashSet<String, FnvBuild>,
    cyr_sur: HashSet<String, FnvBuild>,
    greek_first: HashSet<String, FnvBuild>,
    greek_sur: HashSet<String, FnvBuild>,
    arab_first: HashSet<&'static str, FnvBuild>,
    deva_sur: HashSet<&'static str, FnvBuild>,
}

impl std::fmt::Debug for ScriptNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptNames")
            .field("han", &self.han_sur.len())
            .field("hangul", &self.hangul_sur.len())
            .field("cyrillic", &(self.cyr_first.len() + self.cyr_sur.len()))
            .finish_non_exhaustive()
    }
}

/// A word of one script and where it sits.
struct Word<'t> {
    text: &'t str,
    script: Script,
    /// The bytes between the previous word and this one.
    gap: &'t str,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut last_end = 0usize;
    let mut cur: Option<(usize, Script)> = None;
    let mut push = |st: usize, en: usize, sc: Script, last_end: &mut usize| {
        out.push(Word {
            text: text.get(st..en).unwrap_or(""),
            script: sc,
            gap: text.get(*last_end..st).unwrap_or(""),
        });
        *last_end = en;
    };
    for (i, c) in text.char_indices() {
        let sc = if c.is_alphabetic() || c == '\u{30FC}' || is_mark(c) {
            script(c)
        } else {
            Script::Other
        };
        let word_char = c.is_alphabetic() || is_mark(c) || c == '\u{30FC}';
        match cur {
            Some((st, s)) if word_char && (s == sc || (is_cjk(s) && is_cjk(sc))) => {
                let _ = st;
            }
            Some((st, s)) => {
                push(st, i, s, &mut last_end);
                cur = word_char.then_some((i, sc));
            }
            None => cur = word_char.then_some((i, sc)),
        }
    }
    if let Some((st, s)) = cur {
        push(st, text.len(), s, &mut last_end);
    }
    out
}

/// Combining marks (Devanagari vowel signs, Arabic harakat) belong to their word.
fn is_mark(c: char) -> bool {
    matches!(u32::from(c), 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963
        | 0x064B..=0x065F | 0x0670 | 0x0300..=0x036F)
}

fn is_cjk(s: Script) -> bool {
    matches!(s, Script::Han | Script::Kana)
}

fn capitalised(w: &str) -> bool {
    let mut cs = w.chars();
    cs.next().is_some_and(char::is_uppercase) && cs.any(char::is_lowercase)
}

fn ends_with_any(w: &str, ends: &[&str]) -> bool {
    ends.iter()
        .any(|e| w.ends_with(e) && w.chars().count() > e.chars().count() + 1)
}

impl ScriptNames {
    pub(crate) fn new() -> Self {
        let mut s = Self {
            han_sur: HashSet::default(),
            hangul_sur: HashSet::default(),
            cyr_first: HashSet::default(),
            cyr_sur: HashSet::default(),
            greek_first: HashSet::default(),
            greek_sur: HashSet::default(),
            arab_first: HashSet::default(),
            deva_sur: HashSet::default(),
        };
        for line in SCRIPTS.lines() {
            let Some((kind, w)) = line.split_once(' ') else {
                continue;
            };
            match kind {
                "han_sur" => {
                    s.han_sur.insert(w);
                }
                "hangul_sur" => {
                    s.hangul_sur.insert(w);
                }
                "cyr_first" => {
                    s.cyr_first.insert(w.to_lowercase());
                }
                "cyr_sur" => {
                    s.cyr_sur.insert(w.to_lowercase());
                }
                "greek_first" => {
                    s.greek_first.insert(w.to_lowercase());
                }
                "greek_sur" => {
                    s.greek_sur.insert(w.to_lowercase());
                }
                "arab_first" => {
                    s.arab_first.insert(w);
                }
                "deva_sur" => {
                    s.deva_sur.insert(w);
                }
                _ => {}
            }
        }
        s
    }

    /// True when `text` holds a person's name written in a non-Latin script. `name_key`:
    /// the value sits under a key that names a name; `person_text`: a Latin person word
    /// (`patient`, `name`) is in the text.
    pub(crate) fn has_name(&self, text: &str, name_key: bool) -> bool {
        let ws = words(text);
        (0..ws.len()).any(|i| self.name_at(&ws, i, name_key))
    }

    fn name_at(&self, ws: &[Word<'_>], i: usize, name_key: bool) -> bool {
        let Some(w) = ws.get(i) else { return false };
        let prev = i.checked_sub(1).and_then(|j| ws.get(j));
        let next = ws.get(i + 1);
        // The word before, when it is adjacent (only spaces or a colon between).
        let adjacent = |gap: &str| {
            gap.chars()
                .all(|c| matches!(c, ' ' | ':' | '\u{3000}' | '\u{FF1A}' | '\t'))
        };
        let prev_adj = prev.filter(|_| adjacent(w.gap));
        let next_adj = next.filter(|n| adjacent(n.gap));
        // A Latin person word or label right before it (`patient: 王小明`, `name=Иванов`)
        // says what it is, as a name key does.
        let latin_label = prev.is_some_and(|p| {
            p.script == Script::Other
                && w.gap
                    .chars()
                    .all(|c| matches!(c, ' ' | ':' | '=' | '"' | '\''))
                && LATIN_PERSON.iter().any(|l| p.text.eq_ignore_ascii_case(l))
        });
        let name_key = name_key || latin_label;
        match w.script {
            Script::Han | Script::Kana => self.cjk_name(w.text, prev_adj, next_adj, name_key),
            Script::Hangul => self.hangul_name(w.text, prev_adj, next_adj, name_key),
            Script::Cyrillic | Script::Greek => self.cased_name(ws, i, name_key),
            Script::Arabic => self.arabic_name(ws, i, name_key),
            Script::Devanagari => self.deva_name(ws, i, name_key),
            Script::Other => false,
        }
    }

    /// True when `s` is a surname from the inventory or ends with one (of two or three
    /// characters, or a one-character surname after kana or at the start).
    fn han_surname_suffix(&self, s: &str) -> bool {
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        (1..=3).any(|k| {
            let Some(&(st, _)) = chars.len().checked_sub(k).and_then(|i| chars.get(i)) else {
                return false;
            };
            let before_kana = st == 0
                || chars
                    .len()
                    .checked_sub(k + 1)
                    .and_then(|i| chars.get(i))
                    .is_some_and(|(_, c)| script(*c) == Script::Kana);
            s.get(st..).is_some_and(|t| self.han_sur.contains(t)) && (k >= 2 || before_kana)
        })
    }

    /// A surname from the inventory at `s` followed by 1..=max given-name characters.
    fn han_surname_len(&self, s: &str) -> Option<usize> {
        // Longest surname first (compound surnames such as 欧阳, Japanese 佐々木).
        (1..=3).rev().find_map(|n| {
            let end = s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
            let head = s.get(..end)?;
            (head.chars().count() == n && self.han_sur.contains(head)).then_some(n)
        })
    }

    /// A CJK name: a surname from the inventory and one to three given-name characters,
    /// with an honorific after it (`王先生`, `佐藤様`) or a person word or label before it
    /// (`患者王小明`, `姓名：李娜`), inside one run of Han and kana or in adjacent words; or
    /// under a name key. A katakana name counts before an honorific (`ヤマダ様`).
    fn cjk_name(
        &self,
        word: &str,
        prev: Option<&Word<'_>>,
        next: Option<&Word<'_>>,
        name_key: bool,
    ) -> bool {
        let before =
            name_key || prev.is_some_and(|p| CJK_BEFORE.iter().any(|b| p.text.ends_with(b)));
        let after = next.is_some_and(|n| CJK_AFTER.iter().any(|a| n.text.starts_with(a)));
        // A surname word, then the given name as the next word (`田中 太郎`).
        let split_name = before
            && self.han_surname_len(word) == Some(word.chars().count())
            && next.is_some_and(|n| (1..=3).contains(&n.text.chars().count()));
        if split_name || self.cjk_candidate(word, before, after) {
            return true;
        }
        // A surname before it (`遠藤 裕太様`), the whole previous word or its end
        // (`担当医は遠藤 さゆりさん`, a particle before the surname): this word's head is the
        // given name.
        let prev_surname = prev.is_some_and(|p| self.han_surname_suffix(p.text));
        // An honorific inside the run: the one to three characters before it.
        for a in CJK_AFTER {
            for (p, _) in word.match_indices(a) {
                let head = word.get(..p).unwrap_or("");
                if prev_surname && (1..=3).contains(&head.chars().count()) {
                    return true;
                }
                let chars: Vec<(usize, char)> = head.char_indices().collect();
                let kana_tail = chars
                    .iter()
                    .rev()
                    .take_while(|(_, c)| (0x30A1..=0x30FF).contains(&u32::from(*c)))
                    .count();
                if kana_tail >= 2 {
                    return true;
                }
                for k in 1..=3usize {
                    let Some(&(st, _)) = chars.len().checked_sub(k).and_then(|i| chars.get(i))
                    else {
                        break;
                    };
                    let cand = head.get(st..).unwrap_or("");
                    if self
                        .han_surname_len(cand)
                        .is_some_and(|sur| k - sur.min(k) <= 2)
                    {
                        return true;
                    }
                }
            }
        }
        // A person word or label inside the run: the rest of the run after it.
        for b in CJK_BEFORE {
            for (p, _) in word.match_indices(b) {
                let rest = word.get(p + b.len()..).unwrap_or("");
                if !rest.is_empty() && self.cjk_candidate(rest, true, after) {
                    return true;
                }
            }
        }
        false
    }

    /// `core` as a whole is a name: surname + 1..=3 characters after a person word, or a
    /// surname with at most two more characters before an honorific.
    fn cjk_candidate(&self, core: &str, before: bool, after: bool) -> bool {
        let n = core.chars().count();
        let katakana = n >= 2
            && core
                .chars()
                .all(|c| (0x30A1..=0x30FF).contains(&u32::from(c)));
        if katakana && (after || before) {
            return true;
        }
        let Some(sur) = self.han_surname_len(core) else {
            return false;
        };
        let given = n.saturating_sub(sur);
        (after && given <= 2) || (before && (1..=3).contains(&given))
    }

    /// A Hangul name: 2..=4 syllables starting with a surname, with a particle or honorific
    /// glued, an honorific or person word next to it, or under a name key.
    fn hangul_name(
        &self,
        word: &str,
        prev: Option<&Word<'_>>,
        next: Option<&Word<'_>>,
        name_key: bool,
    ) -> bool {
        let after = next.is_some_and(|n| CJK_AFTER.contains(&n.text));
        let before = prev.is_some_and(|p| CJK_BEFORE.contains(&p.text));
        // A final syllable that is also a particle (`은`, `이`) may end the given name
        // (`김지은`): the word is read both with and without it.
        let stripped = KO_PARTICLES.iter().find_map(|p| {
            word.strip_suffix(p)
                .filter(|rest| rest.chars().count() >= 2)
                .map(|rest| (rest, matches!(*p, "님" | "씨" | "환자")))
        });
        let whole = !stripped.is_some_and(|(_, honorific)| honorific)
            && self.hangul_core(word, before, after, name_key);
        whole
            || stripped.is_some_and(|(core, honorific)| {
                self.hangul_core(core, before, after || honorific, name_key)
            })
    }

    /// A Hangul word (particles removed) that is a name by shape and context.
    fn hangul_core(&self, core: &str, before: bool, after: bool, name_key: bool) -> bool {
        let n = core.chars().count();
        if !(2..=4).contains(&n) {
            return false;
        }
        let sur = (1..=2).rev().find(|k| {
            let end = core.char_indices().nth(*k).map_or(core.len(), |(b, _)| b);
            core.get(..end).is_some_and(|h| self.hangul_sur.contains(h))
        });
        // Most Korean names are three syllables; two-syllable ones need an honorific or key.
        sur.is_some() && (after || name_key || (before && n == 3))
    }

    /// Cyrillic or Greek: a capitalised surname-shaped word next to a given name, a
    /// patronymic, initials or a person word; or under a name key.
    fn cased_name(&self, ws: &[Word<'_>], i: usize, name_key: bool) -> bool {
        let Some(w) = ws.get(i) else { return false };
        if !capitalised(w.text) {
            return false;
        }
        let greek = w.script == Script::Greek;
        let (firsts, surs, ends) = if greek {
            (&self.greek_first, &self.greek_sur, GREEK_SUR_ENDS)
        } else {
            (&self.cyr_first, &self.cyr_sur, CYR_SUR_ENDS)
        };
        let first = |t: &str| firsts.contains(&t.to_lowercase());
        let surname = |t: &str| {
            let l = t.to_lowercase();
            surs.contains(&l) || ends_with_any(&l, ends)
        };
        let patronymic = |t: &str| ends_with_any(&t.to_lowercase(), CYR_PATRONYMIC_ENDS);
        // Under a name key a capitalised word is a name (the key says what it is).
        if name_key {
            return true;
        }
        let next = ws
            .get(i + 1)
            .filter(|n| n.script == w.script && n.gap.trim().is_empty() && !n.gap.is_empty());
        let prev = ws
            .get(i.wrapping_sub(1))
            .filter(|_| w.gap.trim().is_empty() && !w.gap.is_empty());
        let is_surname = surname(w.text);
        // Surname + given name (either order), given name + patronymic.
        if let Some(n) = next
            && capitalised(n.text)
            && ((is_surname && (first(n.text) || patronymic(n.text)))
                || (first(w.text) && (surname(n.text) || patronymic(n.text))))
        {
            return true;
        }
        // Surname + initials (`Иванов И. И.`) or initials + surname (`И.И. Иванов`).
        let initial_after = ws.get(i + 1).is_some_and(|n| {
            n.text.chars().count() == 1
                && n.gap.trim().is_empty()
                && ws.get(i + 2).is_some_and(|m| {
                    m.gap.starts_with('.') || n.text.chars().all(char::is_uppercase)
                })
        });
        let initial_before = w.gap.contains('.')
            && prev.is_none()
            && ws.get(i.wrapping_sub(1)).is_some_and(|p| {
                p.text.chars().count() == 1 && p.text.chars().all(char::is_uppercase)
            });
        if is_surname && (initial_after || initial_before) {
            return true;
        }
        // Any capitalised word before a patronymic is a given name (`Миколай Олегович`).
        if !greek && next.is_some_and(|n| capitalised(n.text) && patronymic(n.text)) {
            return true;
        }
        // A lexicon given name next to another capitalised word (`Максим Сич`).
        if first(w.text) && next.is_some_and(|n| capitalised(n.text)) {
            return true;
        }
        // A capitalised word right after a person word or label (`пациент Иванов`,
        // `ФИО: Иванов`, `κ. Παπαδόπουλος`): mid-sentence capitals in these languages are
        // proper nouns.
        ws.get(i.wrapping_sub(1)).is_some_and(|p| {
            let pl = p.text.to_lowercase();
            WORD_BEFORE.contains(&pl.as_str())
                && p.script == w.script
                && w.gap.chars().all(|c| matches!(c, ' ' | ':' | '.'))
        })
    }

    /// Arabic: a nasab or kunya particle between or before words, `عبد` + a word, a given
    /// name from the inventory next to another word, or a person word before a name.
    fn arabic_name(&self, ws: &[Word<'_>], i: usize, name_key: bool) -> bool {
        let Some(w) = ws.get(i) else { return false };
        let next = ws
            .get(i + 1)
            .filter(|n| n.script == Script::Arabic && n.gap.trim().is_empty());
        let prev = ws.get(i.wrapping_sub(1)).filter(|p| {
            p.script == Script::Arabic && w.gap.chars().all(|c| matches!(c, ' ' | ':' | '\u{FF1A}'))
        });
        let given = self.arab_first.contains(w.text)
            || w.text
                .strip_prefix("عبد")
                .is_some_and(|r| r.chars().count() >= 3);
        if name_key && (given || w.text.chars().count() >= 2) {
            return true;
        }
        if ARABIC_PARTICLES.contains(&w.text) {
            return next.is_some()
                && (prev.is_some() || w.text.starts_with('أ') || w.text.starts_with('ا'));
        }
        if w.text == "عبد" && next.is_some() {
            return true;
        }
        let function_word = ARABIC_FUNCTION.contains(&w.text);
        if function_word {
            return false;
        }
        // Two words after a person word (`المريض محمد علي`, `بیمار سبحان ایروانی`).
        if prev.is_some_and(|p| WORD_BEFORE.contains(&p.text))
            && next.is_some_and(|n| !ARABIC_FUNCTION.contains(&n.text))
        {
            return true;
        }
        let person_before = prev.is_some_and(|p| WORD_BEFORE.contains(&p.text))
            || ws
                .get(i.wrapping_sub(1))
                .is_some_and(|p| matches!(p.text, "اسم" | "الاسم") && w.gap.contains(':'));
        // A given name counts before another given name (a nasab chain, `محمد علي`) or
        // a family name (`ال…`, Persian `…ی`, `…پور`, `…زاده`, `…یان`).
        let family_next = next.is_some_and(|n| {
            self.arab_first.contains(n.text)
                || n.text.starts_with("ال")
                || ["ی", "پور", "زاده", "یان", "ي"]
                    .iter()
                    .any(|e| n.text.ends_with(e))
        });
        (given && (family_next || person_before))
            || (person_before && prev.is_some_and(|p| matches!(p.text, "السيد" | "السيدة")))
            || (person_before && w.gap.contains(':'))
    }

    /// Devanagari: a word before a frequent surname, or a word after an honorific or a
    /// person word.
    fn deva_name(&self, ws: &[Word<'_>], i: usize, name_key: bool) -> bool {
        let Some(w) = ws.get(i) else { return false };
        if name_key && w.text.chars().count() >= 2 {
            return true;
        }
        let next_sur = ws.get(i + 1).is_some_and(|n| {
            n.script == Script::Devanagari
                && n.gap.trim().is_empty()
                && self.deva_sur.contains(n.text)
                && !WORD_BEFORE.contains(&w.text)
        });
        let prev_person = ws.get(i.wrapping_sub(1)).is_some_and(|p| {
            p.script == Script::Devanagari
                && WORD_BEFORE.contains(&p.text)
                && w.gap.chars().all(|c| c == ' ' || c == ':' || c == '.')
        });
        (next_sur || prev_person) && !WORD_BEFORE.contains(&w.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_their_scripts_are_found() {
        let s = ScriptNames::new();
        for t in [
            "患者王小明，男，65岁",
            "姓名：李娜",
            "王先生已出院",
            "佐藤様の予約",
            "氏名: 田中 太郎",
            "김민수 님 혈압 측정",
            "환자 김민수 입원",
            "Пациент Иванов Иван Петрович",
            "Иванов И. И.",
            "Ασθενής Παπαδόπουλος",
            "المريض محمد علي",
            "أحمد بن خالد",
            "श्री राम शर्मा",
        ] {
            assert!(s.has_name(t, false), "{t}");
        }
    }

    #[test]
    fn messages_without_a_person_are_clean() {
        let s = ScriptNames::new();
        for t in [
            "3号病房请注意，体温38.5℃",
            "服务暂时不可用，请稍后重试",
            "血压 120/80 mmHg，心率 72",
            "予約が確定しました",
            "혈압 120/80 심박수 72",
            "서비스를 사용할 수 없습니다",
            "Ошибка подключения к серверу",
            "Давление 120/80, пульс 72",
            "Η υπηρεσία δεν είναι διαθέσιμη",
            "ضغط الدم 120/80 والنبض 72",
            "الخدمة غير متوفرة حاليا",
            "रक्तचाप 120/80, नाड़ी 72",
            "सेवा अभी उपलब्ध नहीं है",
        ] {
            assert!(!s.has_name(t, false), "{t}");
        }
    }
}
