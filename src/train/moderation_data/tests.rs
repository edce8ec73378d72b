//! Unit tests of the generator's parts: the tables' slots and families, the held-out deal of
//! core phrases, labels, the lexicon parsers and the obfuscations.

use super::compose::{cue_words, deal_pool, lexicon_slot, slots, Rng};
use super::lexicon::{parse_cuss, parse_rustrict, Kind};
use super::obfuscate::obfuscate_word;
use super::tables::{compo_pools, family, phrase_pool, slot_fillers, tables};
use super::{Example, CATEGORIES};
use crate::moderation::normalize::{normalize, skeleton};
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[test]
fn every_template_slot_has_fillers() {
    for g in &tables().groups {
        for t in &g.templates {
            for s in slots(t) {
                assert!(
                    lexicon_slot(s).is_some() || !slot_fillers(s).is_empty(),
                    "{}: slot {{{s}}} in {t:?} has no fillers",
                    g.id
                );
            }
        }
    }
}

#[test]
fn composed_groups_are_well_formed() {
    let t = tables();
    for f in &t.families {
        assert!(f.frames.len() >= 10, "family {} has few frames", f.id);
        for fr in &f.frames {
            assert_eq!(fr.matches("{core}").count(), 1, "{}: {fr:?}", f.id);
        }
    }
    for c in &t.compos {
        family(&c.family);
        let pool = phrase_pool(&c.pool);
        assert!(pool.len() >= 8, "pool {} has few phrases", c.pool);
        for t in family(&c.family).frames.iter().chain(pool) {
            for s in slots(t) {
                assert!(
                    s == "core" || lexicon_slot(s).is_some() || !slot_fillers(s).is_empty(),
                    "slot {{{s}}} in {t:?} has no fillers"
                );
            }
        }
    }
    let ids: BTreeSet<&str> = t.families.iter().map(|f| f.id).collect();
    assert_eq!(ids.len(), t.families.len(), "family ids are unique");
}

#[test]
fn held_out_core_phrases_share_a_cue_with_training() {
    for seed in [1, 7, 1234] {
        let mut rng = Rng::new(seed);
        for p in compo_pools() {
            let pool = phrase_pool(p);
            let split = deal_pool(pool, &mut rng);
            assert!(split.iter().filter(|&&s| s == 0).count() * 2 > pool.len());
            let train: HashSet<String> = pool
                .iter()
                .zip(&split)
                .filter(|(_, &s)| s == 0)
                .flat_map(|(t, _)| cue_words(t))
                .collect();
            for (t, &s) in pool.iter().zip(&split) {
                if s != 0 {
                    assert!(cue_words(t).iter().any(|w| train.contains(w)), "{t:?}");
                }
            }
        }
    }
    assert_eq!(cue_words("stab you in the {bodypart}"), vec!["stab"]);
}

#[test]
fn labels_imply_parents() {
    let e = Example::new("x".into(), &["harassment/threatening", "sexual/minors"]);
    for c in [
        "harassment",
        "harassment/threatening",
        "violence",
        "sexual",
        "sexual/minors",
    ] {
        assert!(e.has(c), "{c}");
    }
    assert!(!e.has("hate"));
    assert_eq!(e.target().len(), CATEGORIES.len());
    let e = Example::new("x".into(), &["illicit/violent"]);
    assert!(e.has("illicit") && e.has("violence") && !e.has("harassment"));
}

#[test]
fn parses_rustrict_rows_by_severity() {
    let csv = "word,profane,offensive,sexual,mean,evasive\n\
               crap,1,0,0,0,0\n\
               jerkface,0,0,0,2,0\n\
               smutword,0,0,3,0,0\n\
               slurword,0,3,0,0,0\n\
               killyourself,0,0,0,3,0\n\
               orifice,0,0,1,0,0\n\
               slurtwo,2,3,0,0,0\n\
               bastard,2,3,0,0,0\n\
               niggling,0,3,0,0,0\n";
    let got: BTreeMap<String, Kind> = parse_rustrict(csv).into_iter().collect();
    assert_eq!(got.get("jerkface"), Some(&Kind::Insult));
    assert_eq!(got.get("smutword"), Some(&Kind::Sexual));
    assert_eq!(got.get("slurword"), Some(&Kind::Slur));
    assert!(!got.contains_key("crap"), "severity 1 is not used");
    assert!(!got.contains_key("orifice"));
    assert!(
        !got.contains_key("killyourself"),
        "phrases with threat stems are left out"
    );
    assert_eq!(got.get("slurtwo"), Some(&Kind::Slur));
    assert_eq!(got.get("bastard"), Some(&Kind::Insult));
    assert!(!got.contains_key("niggling"), "an English word, not a slur");
}

#[test]
fn parses_cuss_js() {
    let js = "export const cuss = {\n  abbo: 1,\n  'alligator bait': 2,\n  asian: 0\n}\n";
    assert_eq!(
        parse_cuss(js),
        vec![
            ("abbo".to_string(), 1),
            ("alligator bait".to_string(), 2),
            ("asian".to_string(), 0)
        ]
    );
}

#[test]
fn obfuscations_are_undone_by_normalize_mostly() {
    let mut rng = Rng::new(7);
    for kind in [
        "leet",
        "spaced",
        "zero_width",
        "homoglyph",
        "mixed_case",
        "full_width",
        "accents",
    ] {
        for _ in 0..20 {
            let o = obfuscate_word("idiot", kind, &mut rng);
            let n = normalize(&o);
            // Leetspeak `1` may read as `l`; everything else must come back exactly.
            if kind != "leet" {
                assert_eq!(n, "idiot", "{kind}: {o:?} → {n:?}");
            }
        }
    }
    for _ in 0..20 {
        let r = obfuscate_word("kill", "repeat", &mut rng);
        assert_eq!(skeleton(&r), skeleton("kill"), "{r:?}");
    }
}
