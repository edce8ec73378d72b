//! Questions whose answers code computes: arithmetic, counting letters and words, ordering
//! numbers and words, days of the week and date arithmetic, comparisons.
//!
//! Each task draws a problem from a seeded RNG; its "entity" is the operands ("add:37:41", the
//! word whose letters are counted, the set of numbers to sort), held out by the same seeded hash
//! as the quiz entities. The last question template of each task is held out too. So an
//! evaluation question either asks about operands no training question used, or phrases the task
//! in a way training never did.

use super::{capitalize, pick, pick_range, rng_for, HoldOut, QaItem, SftDataConfig, Split};
use crate::generate::Rng;
use crate::tokenizer::Message;
use crate::train::checkers::Check;
use crate::train::data_file::{entries, parsed, sections};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// One drawn problem: the entity key, the values for the question placeholders, and the answers.
struct Problem {
    key: String,
    vars: Vec<(&'static str, String)>,
    /// Correct and complete.
    full: String,
    /// Correct but terse.
    terse: String,
    /// Plausible but wrong, as complete as `full`.
    wrong: String,
    check: Check,
}

struct Task {
    id: &'static str,
    /// Question templates with `{name}` placeholders; the last is held out.
    questions: Vec<String>,
    draw: Draw,
}

/// Draws one problem of a task.
type Draw = fn(&mut Rng) -> Problem;

/// The tasks, in order, by id and drawing function; their question templates are the sections of
/// `data/sft_tables/computed_questions.txt`, in the same order.
const DRAWS: &[(&str, Draw)] = &[
    ("add", |r| arithmetic(r, "add")),
    ("sub", |r| arithmetic(r, "sub")),
    ("mul", |r| arithmetic(r, "mul")),
    ("letters", letters),
    ("letter_count", letter_count),
    ("word_count", word_count),
    ("sort_numbers", sort_numbers),
    ("sort_words", sort_words),
    ("larger", larger),
    ("greater", greater_yes_no),
    ("next_day", next_day),
    ("day_offset", day_offset),
    ("date_add", date_add),
];

const QUESTIONS_PATH: &str = "data/sft_tables/computed_questions.txt";
const QUESTIONS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/sft_tables/computed_questions.txt"
));

static TASKS: LazyLock<Vec<Task>> = LazyLock::new(|| parsed(tasks()));

fn tasks() -> Result<Vec<Task>, String> {
    let sections = sections(QUESTIONS_PATH, QUESTIONS, "task")?;
    let ids: Vec<&str> = sections.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<&str> = DRAWS.iter().map(|&(id, _)| id).collect();
    if ids != want {
        return Err(format!(
            "{QUESTIONS_PATH}: the tasks are {ids:?}; computed.rs draws {want:?}, in that order"
        ));
    }
    let mut out = Vec::new();
    for ((_, questions), &(id, draw)) in sections.into_iter().zip(DRAWS) {
        if questions.len() < 2 {
            return Err(format!(
                "{QUESTIONS_PATH}: @task {id} needs two question templates or more (the last \
                 is held out)"
            ));
        }
        out.push(Task {
            id,
            questions,
            draw,
        });
    }
    Ok(out)
}

/// The computed items, already split (they are drawn per split rather than filtered).
pub struct ComputedItems {
    pub train: Vec<QaItem>,
    pub eval: Vec<(QaItem, Split)>,
    /// Fresh training-side prompts for PPO.
    pub ppo: Vec<QaItem>,
}

pub fn held_out_templates() -> Vec<String> {
    TASKS
        .iter()
        .map(|t| {
            let k = t.questions.len() - 1;
            format!("computed/{}#{k}: {}", t.id, t.questions[k])
        })
        .collect()
}

/// Draws `train_per_task` training items, `eval_per_task` evaluation items (half about held-out
/// operands, half in the held-out template) and `ppo_per_task` PPO prompts for every task.
pub fn computed_items(seed: u64, config: &SftDataConfig) -> ComputedItems {
    let hold = HoldOut::new(seed);
    let mut out = ComputedItems {
        train: Vec::new(),
        eval: Vec::new(),
        ppo: Vec::new(),
    };
    for task in TASKS.iter() {
        let last = task.questions.len() - 1;
        let mut rng = rng_for(seed, &format!("computed/{}", task.id));
        let mut prompts = BTreeSet::new();
        // training: operands not held out, templates not held out
        out.train.extend(draw_many(
            task,
            &mut rng,
            &hold,
            &mut prompts,
            config.computed_train_per_task,
            |rng, held| (!held).then(|| pick(rng, last)),
        ));
        // evaluation: held-out operands in any template, then training operands in the held-out
        // template
        let n_entity = config.computed_eval_per_task / 2;
        for item in draw_many(
            task,
            &mut rng,
            &hold,
            &mut prompts,
            n_entity,
            |rng, held| held.then(|| pick(rng, last + 1)),
        ) {
            out.eval.push((item, Split::EvalEntity));
        }
        let n_template = config.computed_eval_per_task - n_entity;
        for item in draw_many(
            task,
            &mut rng,
            &hold,
            &mut prompts,
            n_template,
            |_, held| (!held).then_some(last),
        ) {
            out.eval.push((item, Split::EvalTemplate));
        }
        // PPO: a separate stream of training-side prompts
        let mut ppo_rng = rng_for(seed, &format!("computed/{}/ppo", task.id));
        let mut ppo_prompts = BTreeSet::new();
        out.ppo.extend(draw_many(
            task,
            &mut ppo_rng,
            &hold,
            &mut ppo_prompts,
            config.computed_ppo_per_task,
            |rng, held| (!held).then(|| pick(rng, last)),
        ));
    }
    out
}

/// Draws up to `n` distinct items; `template` picks the template for a problem (given whether its
/// entity is held out) or rejects it. Small problem spaces (the days of the week) give fewer.
fn draw_many(
    task: &Task,
    rng: &mut Rng,
    hold: &HoldOut,
    prompts: &mut BTreeSet<String>,
    n: usize,
    template: impl Fn(&mut Rng, bool) -> Option<usize>,
) -> Vec<QaItem> {
    let mut items = Vec::with_capacity(n);
    let mut tries = 0;
    while items.len() < n && tries < n * 50 + 200 {
        tries += 1;
        let p = (task.draw)(rng);
        let held = hold.entity(&p.key);
        let Some(k) = template(rng, held) else {
            continue;
        };
        let mut q = task.questions[k].to_string();
        for (name, value) in &p.vars {
            q = q.replace(&format!("{{{name}}}"), value);
        }
        let q = capitalize(&q);
        if !prompts.insert(q.clone()) {
            continue;
        }
        items.push(QaItem {
            source: format!("computed/{}", task.id),
            template: format!("computed/{}#{k}", task.id),
            template_held_out: k + 1 == task.questions.len(),
            entities: vec![p.key],
            messages: vec![Message::user(&q), Message::assistant(&p.full)],
            terse: Some(p.terse),
            wrong: Some(p.wrong),
            check: Some(p.check),
        });
    }
    items
}

/// A wrong number near `right`: off by 1, 2 or 10, never negative, never right.
fn near_miss(rng: &mut Rng, right: i64) -> i64 {
    loop {
        let d = [-10, -2, -1, 1, 2, 10][pick(rng, 6)];
        let w = right + d;
        if w >= 0 && w != right {
            return w;
        }
    }
}

fn arithmetic(rng: &mut Rng, op: &str) -> Problem {
    let (a, b, c, word) = match op {
        "add" => {
            let (a, b) = (pick_range(rng, 0, 99), pick_range(rng, 0, 99));
            (a, b, a + b, "plus")
        }
        "sub" => {
            let a = pick_range(rng, 0, 99);
            let b = pick_range(rng, 0, a);
            (a, b, a - b, "minus")
        }
        _ => {
            let (a, b) = (pick_range(rng, 0, 12), pick_range(rng, 0, 12));
            (a, b, a * b, "times")
        }
    };
    let sym = match op {
        "add" => "+",
        "sub" => "-",
        _ => "×",
    };
    let w = near_miss(rng, c);
    let style = pick(rng, 2);
    let say = |r: i64| {
        if style == 0 {
            format!("{a} {word} {b} is {r}.")
        } else {
            format!("{a} {sym} {b} = {r}.")
        }
    };
    Problem {
        key: format!("{op}:{a}:{b}"),
        vars: vec![("a", a.to_string()), ("b", b.to_string())],
        full: say(c),
        terse: format!("{c}."),
        wrong: say(w),
        check: Check::number(&[c.to_string()]),
    }
}

/// The words whose letters are counted and that are sorted (`data/sft_tables/words.txt`).
static WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    parsed(entries(
        "data/sft_tables/words.txt",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/sft_tables/words.txt"
        )),
    ))
});

fn word(rng: &mut Rng) -> &'static str {
    &WORDS[pick(rng, WORDS.len())]
}

fn distinct_words(rng: &mut Rng, n: usize) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::with_capacity(n);
    while out.len() < n {
        let w = word(rng);
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn letters(rng: &mut Rng) -> Problem {
    let w = word(rng);
    let n = w.chars().count() as i64;
    let wrong = near_miss(rng, n);
    Problem {
        key: format!("letters:{w}"),
        vars: vec![("w", w.to_string())],
        full: format!("The word \"{w}\" has {}.", plural(n, "letter", "letters")),
        terse: format!("{n}."),
        wrong: format!(
            "The word \"{w}\" has {}.",
            plural(wrong, "letter", "letters")
        ),
        check: Check::number(&[n.to_string()]),
    }
}

fn letter_count(rng: &mut Rng) -> Problem {
    let w = word(rng);
    let chars: Vec<char> = w.chars().collect();
    // mostly a letter of the word, sometimes one it lacks (answer 0)
    let l = if pick(rng, 4) > 0 {
        chars[pick(rng, chars.len())]
    } else {
        (b'a' + pick(rng, 26) as u8) as char
    };
    let n = chars.iter().filter(|&&c| c == l).count() as i64;
    let wrong = if n == 0 {
        1
    } else {
        near_miss(rng, n).min(n + 1)
    };
    let say = |k: i64| {
        format!(
            "The letter \"{l}\" appears {} in \"{w}\".",
            plural(k, "time", "times")
        )
    };
    Problem {
        key: format!("letter_count:{w}:{l}"),
        vars: vec![("w", w.to_string()), ("l", l.to_string())],
        full: say(n),
        terse: format!("{n}."),
        wrong: say(wrong),
        check: Check::number(&[n.to_string()]),
    }
}

fn word_count(rng: &mut Rng) -> Problem {
    let n = pick_range(rng, 3, 8) as usize;
    let words: Vec<&str> = (0..n).map(|_| word(rng)).collect();
    let sentence = capitalize(&words.join(" "));
    let n = n as i64;
    let wrong = near_miss(rng, n).clamp(1, n + 2);
    let wrong = if wrong == n { n + 1 } else { wrong };
    Problem {
        key: format!("word_count:{}", words.join(" ")),
        vars: vec![("s", sentence)],
        full: format!("There are {} in that sentence.", plural(n, "word", "words")),
        terse: format!("{n}."),
        wrong: format!(
            "There are {} in that sentence.",
            plural(wrong, "word", "words")
        ),
        check: Check::number(&[n.to_string()]),
    }
}

/// The sorted list with two neighbours swapped: plausible, wrong.
fn swap_two<T: Clone>(rng: &mut Rng, sorted: &[T]) -> Vec<T> {
    let mut w = sorted.to_vec();
    let i = pick(rng, w.len() - 1);
    w.swap(i, i + 1);
    w
}

fn sort_numbers(rng: &mut Rng) -> Problem {
    let n = pick_range(rng, 3, 5) as usize;
    let mut nums: Vec<i64> = Vec::with_capacity(n);
    while nums.len() < n {
        let v = pick_range(rng, 0, 99);
        if !nums.contains(&v) {
            nums.push(v);
        }
    }
    let mut sorted = nums.clone();
    sorted.sort();
    let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let wrong = swap_two(rng, &sorted);
    Problem {
        key: format!("sort_numbers:{}", join(&sorted)),
        vars: vec![("list", join(&nums))],
        full: format!("From smallest to largest: {}.", join(&sorted)),
        terse: format!("{}.", join(&sorted)),
        wrong: format!("From smallest to largest: {}.", join(&wrong)),
        check: Check::exact(&[join(&sorted)]),
    }
}

fn sort_words(rng: &mut Rng) -> Problem {
    let n = pick_range(rng, 3, 5) as usize;
    let words = distinct_words(rng, n);
    let mut sorted = words.clone();
    sorted.sort();
    let wrong = swap_two(rng, &sorted);
    Problem {
        key: format!("sort_words:{}", sorted.join(" ")),
        vars: vec![("list", words.join(", "))],
        full: format!("In alphabetical order: {}.", sorted.join(", ")),
        terse: format!("{}.", capitalize(&sorted.join(", "))),
        wrong: format!("In alphabetical order: {}.", wrong.join(", ")),
        check: Check::exact(&[sorted.join(", ")]),
    }
}

fn two_numbers(rng: &mut Rng) -> (i64, i64) {
    loop {
        let (a, b) = (pick_range(rng, 0, 999), pick_range(rng, 0, 999));
        if a != b {
            return (a, b);
        }
    }
}

fn larger(rng: &mut Rng) -> Problem {
    let (a, b) = two_numbers(rng);
    let (hi, lo) = (a.max(b), a.min(b));
    Problem {
        key: format!("larger:{lo}:{hi}"),
        vars: vec![("a", a.to_string()), ("b", b.to_string())],
        // the answer closes the sentence: "120 is larger than 184" would end with the right
        // number and fool the checker
        full: format!("The larger number is {hi}."),
        terse: format!("{hi}."),
        wrong: format!("The larger number is {lo}."),
        check: Check::exact(&[hi.to_string()]),
    }
}

fn greater_yes_no(rng: &mut Rng) -> Problem {
    let (a, b) = two_numbers(rng);
    let yes = format!("Yes, {a} is greater than {b}.");
    let no = format!("No, {a} is less than {b}.");
    let (full, wrong, word) = if a > b {
        (yes, no, "Yes")
    } else {
        (no, yes, "No")
    };
    Problem {
        key: format!("greater:{a}:{b}"),
        vars: vec![("a", a.to_string()), ("b", b.to_string())],
        full,
        terse: format!("{word}."),
        wrong,
        check: Check::exact(&[word]),
    }
}

const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn next_day(rng: &mut Rng) -> Problem {
    let d = pick(rng, 7);
    let e = (d + 1) % 7;
    let before = (d + 6) % 7;
    Problem {
        key: format!("next_day:{}", DAYS[d]),
        vars: vec![("d", DAYS[d].to_string())],
        full: format!("The day after {} is {}.", DAYS[d], DAYS[e]),
        terse: format!("{}.", DAYS[e]),
        wrong: format!("The day after {} is {}.", DAYS[d], DAYS[before]),
        check: Check::exact(&[DAYS[e]]),
    }
}

fn day_offset(rng: &mut Rng) -> Problem {
    let d = pick(rng, 7);
    let n = pick_range(rng, 2, 30) as usize;
    let e = (d + n) % 7;
    let w = (e + [1, 6][pick(rng, 2)]) % 7;
    let say = |k: usize| format!("{n} days after {} it will be {}.", DAYS[d], DAYS[k]);
    Problem {
        key: format!("day_offset:{}:{n}", DAYS[d]),
        vars: vec![("d", DAYS[d].to_string()), ("n", n.to_string())],
        full: say(e),
        terse: format!("{}.", DAYS[e]),
        wrong: say(w),
        check: Check::exact(&[DAYS[e]]),
    }
}

const MONTHS: &[(&str, u32)] = &[
    ("January", 31),
    ("February", 28),
    ("March", 31),
    ("April", 30),
    ("May", 31),
    ("June", 30),
    ("July", 31),
    ("August", 31),
    ("September", 30),
    ("October", 31),
    ("November", 30),
    ("December", 31),
];

/// Day of year (1-based, non-leap) to (month index, day).
fn from_day_of_year(mut doy: u32) -> (usize, u32) {
    for (m, &(_, len)) in MONTHS.iter().enumerate() {
        if doy <= len {
            return (m, doy);
        }
        doy -= len;
    }
    unreachable!("day of year beyond 365")
}

fn date_add(rng: &mut Rng) -> Problem {
    // stay within one year and never step over February's end, so leap years cannot matter
    let (start, n) = loop {
        let start = pick_range(rng, 1, 365) as u32;
        let n = pick_range(rng, 1, 40) as u32;
        let end = start + n;
        if end <= 365 && !(start <= 59 && end >= 60) {
            break (start, n);
        }
    };
    let (m0, d0) = from_day_of_year(start);
    let (m1, d1) = from_day_of_year(start + n);
    // off by one day (for n = 1: the start date itself)
    let (mw, dw) = from_day_of_year(start + n - 1);
    let date = |m: usize, d: u32| format!("{} {d}", MONTHS[m].0);
    Problem {
        key: format!("date_add:{}:{n}", date(m0, d0)),
        vars: vec![("date", date(m0, d0)), ("n", n.to_string())],
        full: format!("{n} days after {} is {}.", date(m0, d0), date(m1, d1)),
        terse: format!("{}.", date(m1, d1)),
        wrong: format!("{n} days after {} is {}.", date(m0, d0), date(mw, dw)),
        check: Check::exact(&[date(m1, d1), format!("{d1} {}", MONTHS[m1].0)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_parse() {
        assert_eq!(TASKS.len(), DRAWS.len());
        assert_eq!(WORDS.len(), 104);
        assert_eq!(TASKS[0].questions[0], "What is {a} plus {b}?");
    }

    #[test]
    fn day_of_year() {
        assert_eq!(from_day_of_year(1), (0, 1));
        assert_eq!(from_day_of_year(59), (1, 28));
        assert_eq!(from_day_of_year(60), (2, 1));
        assert_eq!(from_day_of_year(365), (11, 31));
    }
}
