//! The tables the generator composes sentences from — template groups, frame families, phrase
//! pools, compositions, slot fillers and word lists — read from the text files under
//! `data/moderation_pools/` (see its README.md for the format and the labelling rules). The
//! files are compiled in with `include_str!`, so the binary needs nothing at run time; they are
//! parsed once, on first use, and a malformed file stops the program with its name and line.

use super::lexicon::Kind;
use crate::moderation::CATEGORIES;
use crate::train::data_file::{at, data_files, entries, lines, parsed, sections, Line};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The template groups, in the order the generator deals and fills them.
const TEMPLATE_FILES: &[(&str, &str)] = data_files!("moderation_pools/templates", "txt":
    "harassment", "harassment_threatening", "hate", "hate_threatening", "self_harm",
    "self_harm_intent", "self_harm_instructions", "sexual", "sexual_minors", "violence",
    "violence_graphic", "illicit", "illicit_violent", "benign.everyday", "benign.history",
    "benign.medical", "benign.safety", "benign.cooking", "benign.games", "benign.news",
    "benign.tech", "benign.idioms", "benign.identity", "benign.words",
);

/// The frame families, in the order their frames are dealt into the splits.
const FRAME_FILES: &[(&str, &str)] = data_files!("moderation_pools/frames", "txt":
    "say", "will", "cond", "someone", "howto", "ing", "group", "req", "scene",
);

/// The pools of core phrases (their order of use comes from `compositions.txt`).
const POOL_FILES: &[(&str, &str)] = data_files!("moderation_pools/pools", "txt":
    "insult_you", "insult_name", "nice_you", "name_nice", "idiom", "sex_you", "harm_you",
    "nice_do_you", "harm_3rd", "attack_place", "plan", "self_kill", "crime", "violent_crime",
    "task", "sh_ing", "good_ing", "hate_pred", "hate_violent", "group_nice", "sex_req",
    "minor_req", "benign_req", "gore", "calm_scene", "news",
);

/// Fillers of the slots that no lexicon covers, one file per slot.
const FILLER_FILES: &[(&str, &str)] = data_files!("moderation_pools/fillers", "txt":
    "name", "relative", "place", "group", "weapon", "bodypart", "time", "high_place", "minor",
    "crime", "drug", "country", "city", "topic", "food", "hobby", "science", "nature", "war",
    "illness", "game", "movie",
);

const LIST_FILES: &[(&str, &str)] = data_files!("moderation_pools/lists", "txt":
    "builtin_words", "excluded_stems", "benign_lookalikes", "prefixes", "suffixes", "triggers",
    "cue_stop", "corpus_stop",
);

const COMPOSITIONS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/moderation_pools/compositions.txt"
));

/// A template group: its id prefix, the categories its sentences carry, and the sentences.
/// Slots in braces are filled from [`slot_fillers`] or, for `{insult}`, `{slur}`, `{sexword}`,
/// `{fp}` and `{benignword}`, from the split's lexicon words.
pub(super) struct Group {
    pub id: &'static str,
    pub labels: Vec<&'static str>,
    pub templates: Vec<String>,
}

/// A frame family: sentences with one `{core}` slot (and shared slots).
pub(super) struct Family {
    pub id: &'static str,
    pub frames: Vec<String>,
}

/// A composed group: a family, a pool, and the labels their sentences carry; `weight` scales
/// the number of examples (`per_group` per unit).
pub(super) struct Compo {
    pub family: String,
    pub pool: String,
    pub labels: Vec<&'static str>,
    pub weight: f64,
}

/// Every table, parsed.
pub(super) struct Tables {
    pub groups: Vec<Group>,
    pub families: Vec<Family>,
    pub pools: HashMap<&'static str, Vec<String>>,
    pub compos: Vec<Compo>,
    pub fillers: HashMap<&'static str, Vec<String>>,
    /// Mild words of our own so that a build without the packages still fills every slot.
    pub builtin_words: Vec<(String, Kind)>,
    /// Stems that make a lexicon "word" a whole threat, slogan or self-harm phrase
    /// (`killyourself`, `deathtoamerica`), or that concern children: such entries fit no slot
    /// and are left out.
    pub excluded_stems: Vec<String>,
    /// English words that the lists rate as bad because they contain a slur's letters. They are
    /// benign, and join the false positives.
    pub benign_lookalikes: Vec<String>,
    /// Openings and endings put around every generated sentence, harmful and benign alike, so the
    /// classifier meets each template in many surface forms and learns nothing from the frame.
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Words worth obfuscating in sentences without lexicon words: what a filter would look for.
    pub triggers: Vec<String>,
    /// Words too common to count as a shared cue in `deal_pool`.
    pub cue_stop: Vec<String>,
    /// Words that keep a corpus sentence out of the benign set: the corpus (Shakespeare,
    /// Moby-Dick) has murders and oaths that would be mislabeled as benign.
    pub corpus_stop: Vec<String>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| parsed(Tables::parse()));

/// The tables, parsed on first use.
pub(super) fn tables() -> &'static Tables {
    &TABLES
}

/// The fillers of a shared slot (`{name}`, `{bodypart}`), empty for an unknown slot. They are
/// shared by all splits: the held-out test comes from templates and lexicon words.
pub(super) fn slot_fillers(slot: &str) -> &'static [String] {
    tables().fillers.get(slot).map_or(&[], |v| v.as_slice())
}

/// The core phrases of a pool, empty for an unknown pool. Cores may hold shared slots
/// (`{bodypart}`) and lexicon slots.
pub(super) fn phrase_pool(pool: &str) -> &'static [String] {
    tables().pools.get(pool).map_or(&[], |v| v.as_slice())
}

/// The frames of a family by id.
pub(super) fn family(id: &str) -> &'static Family {
    tables()
        .families
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no frame family {id:?}"))
}

/// The pool names the composed groups use, in order of first use.
pub(super) fn compo_pools() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in &tables().compos {
        if !out.contains(&c.pool.as_str()) {
            out.push(&c.pool);
        }
    }
    out
}

/// Every core phrase of every composed pool (slots unfilled), for checks that evaluation text is
/// not composed from them.
pub fn core_phrases() -> Vec<&'static str> {
    compo_pools()
        .into_iter()
        .flat_map(|p| phrase_pool(p).iter().map(String::as_str))
        .collect()
}

/// Where the files are, for errors.
const DIR: &str = "data/moderation_pools";

/// Category names (`harassment hate`, or `-`/nothing for benign) as the names in CATEGORIES.
fn labels(list: &str) -> Result<Vec<&'static str>, String> {
    list.split([' ', ','])
        .filter(|l| !l.is_empty() && *l != "-")
        .map(|l| {
            CATEGORIES.iter().copied().find(|&c| c == l).ok_or_else(|| {
                format!(
                    "unknown category {l:?}; the categories are {}",
                    CATEGORIES.join(", ")
                )
            })
        })
        .collect()
}

/// A template group's file: `@labels ...` and then its templates.
fn group(id: &'static str, text: &str) -> Result<Group, String> {
    let path = format!("{DIR}/templates/{id}.txt");
    let mut group_labels = None;
    let mut templates = Vec::new();
    for (no, l) in lines(&path, text)? {
        match l {
            Line::Directive("labels", v) if group_labels.is_none() && templates.is_empty() => {
                group_labels = Some(labels(v).map_err(|e| at(&path, no, e))?);
            }
            Line::Directive(d, _) => {
                return Err(at(
                    &path,
                    no,
                    format!("unexpected @{d}; a template file starts with one @labels line"),
                ))
            }
            Line::Entry(_) if group_labels.is_none() => {
                return Err(at(
                    &path,
                    no,
                    "templates before @labels; start the file with `@labels <categories>` \
                     (`@labels` alone for benign)",
                ))
            }
            Line::Entry(s) => templates.push(s),
        }
    }
    Ok(Group {
        id,
        labels: group_labels.unwrap_or_default(),
        templates,
    })
}

/// `builtin_words.txt`: words in sections headed `@kind insult|slur|sexual`.
fn builtin_words(text: &str) -> Result<Vec<(String, Kind)>, String> {
    let path = format!("{DIR}/lists/builtin_words.txt");
    let mut out = Vec::new();
    for (kind, words) in sections(&path, text, "kind")? {
        let kind = match kind.as_str() {
            "insult" => Kind::Insult,
            "slur" => Kind::Slur,
            "sexual" => Kind::Sexual,
            _ => {
                return Err(format!(
                    "{path}: @kind {kind} is not insult, slur or sexual"
                ))
            }
        };
        out.extend(words.into_iter().map(|w| (w, kind)));
    }
    Ok(out)
}

/// `compositions.txt`: `family pool weight labels` per line, labels comma-separated, `-` for
/// none.
fn compositions(
    text: &str,
    families: &[Family],
    pools: &HashMap<&str, Vec<String>>,
) -> Result<Vec<Compo>, String> {
    let mut out = Vec::new();
    let path = format!("{DIR}/compositions.txt");
    for (no, l) in lines(&path, text)? {
        let at = |msg: String| at(&path, no, msg);
        let Line::Entry(row) = l else {
            return Err(at("no directives in this file".into()));
        };
        let f: Vec<&str> = row.split_whitespace().collect();
        let [family, pool, weight, list] = f[..] else {
            return Err(at(format!(
                "expected `family pool weight labels`, got {} fields",
                f.len()
            )));
        };
        if !families.iter().any(|fam| fam.id == family) {
            return Err(at(format!(
                "no frame family {family:?} (frames/{family}.txt)"
            )));
        }
        if !pools.contains_key(pool) {
            return Err(at(format!("no phrase pool {pool:?} (pools/{pool}.txt)")));
        }
        let weight = weight
            .parse::<f64>()
            .map_err(|e| at(format!("weight {weight:?}: {e}")))?;
        out.push(Compo {
            family: family.into(),
            pool: pool.into(),
            labels: labels(list).map_err(at)?,
            weight,
        });
    }
    Ok(out)
}

impl Tables {
    fn parse() -> Result<Tables, String> {
        let named = |dir: &str, files: &[(&'static str, &str)]| {
            files
                .iter()
                .map(|&(name, text)| Ok((name, entries(&format!("{DIR}/{dir}/{name}.txt"), text)?)))
                .collect::<Result<Vec<(&'static str, Vec<String>)>, String>>()
        };
        let groups = TEMPLATE_FILES
            .iter()
            .map(|&(id, text)| group(id, text))
            .collect::<Result<_, _>>()?;
        let families: Vec<Family> = named("frames", FRAME_FILES)?
            .into_iter()
            .map(|(id, frames)| Family { id, frames })
            .collect();
        let pools = named("pools", POOL_FILES)?.into_iter().collect();
        let compos = compositions(COMPOSITIONS, &families, &pools)?;
        let list_text = |name: &str| LIST_FILES.iter().find(|(n, _)| *n == name).unwrap().1;
        let list = |name: &str| entries(&format!("{DIR}/lists/{name}.txt"), list_text(name));
        Ok(Tables {
            groups,
            families,
            pools,
            compos,
            fillers: named("fillers", FILLER_FILES)?.into_iter().collect(),
            builtin_words: builtin_words(list_text("builtin_words"))?,
            excluded_stems: list("excluded_stems")?,
            benign_lookalikes: list("benign_lookalikes")?,
            prefixes: list("prefixes")?,
            suffixes: list("suffixes")?,
            triggers: list("triggers")?,
            cue_stop: list("cue_stop")?,
            corpus_stop: list("corpus_stop")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_file_parses() {
        let t = tables();
        assert_eq!(t.groups.len(), TEMPLATE_FILES.len());
        assert!(t.groups.iter().all(|g| !g.templates.is_empty()));
        assert!(t.pools.values().all(|p| !p.is_empty()));
        assert!(t.fillers.values().all(|p| !p.is_empty()));
        assert_eq!(t.prefixes[..5], ["", "", "", "", "hey, "]);
        // Every pool file is used by a composition.
        let used = compo_pools();
        for (name, _) in POOL_FILES {
            assert!(used.contains(name), "pools/{name}.txt is in no composition");
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let g = group("g", "@labels hate violence\n# c\nt\n").unwrap();
        assert_eq!(
            (g.labels, g.templates),
            (vec!["hate", "violence"], vec!["t".into()])
        );
        let t = tables();
        let dir = "data/moderation_pools";
        let errors = [
            (
                group("g", "a\n").err(),
                "templates/g.txt:1: templates before @labels",
            ),
            (
                group("g", "@labels hat\n").err(),
                "templates/g.txt:1: unknown category \"hat\"",
            ),
            (
                group("g", "@labels hate\nt\n@labels sexual\n").err(),
                "templates/g.txt:3: unexpected @labels",
            ),
            (
                compositions("# c\nsay nope 1.0 -\n", &t.families, &t.pools).err(),
                "compositions.txt:2: no phrase pool \"nope\"",
            ),
            (
                compositions("say idiom x -\n", &t.families, &t.pools).err(),
                "compositions.txt:1: weight \"x\"",
            ),
            (
                compositions("say idiom 1.0\n", &t.families, &t.pools).err(),
                "compositions.txt:1: expected `family pool",
            ),
            (
                builtin_words("idiot\n").err(),
                "lists/builtin_words.txt:1: an entry before",
            ),
            (
                builtin_words("@kind rude\nidiot\n").err(),
                "lists/builtin_words.txt: @kind rude is not insult",
            ),
        ];
        for (e, want) in errors {
            let e = e.expect(want);
            assert!(e.starts_with(&format!("{dir}/{want}")), "{e}");
        }
    }
}
