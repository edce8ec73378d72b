//! `tinychat chat`: a conversation on stdin/stdout with the model's chat template.
//!
//! One user message per line. The conversation is kept and re-rendered through the template on
//! every turn (as transformers' chat pipelines do). Lines starting with `/` are commands.
//! Works the same when stdin is a file or a pipe, which is how it is tested; then only the
//! replies go to stdout, one per turn, each ending with a newline.

use crate::generate::{stats_line, StreamOut};
use crate::sampling::{DtypeArg, SamplingArgs};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::pipeline::{Chunk, Pipeline};
use tinychat::templates::Stage;
use tinychat::{ChatModel, Error, Message, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat chat --model models/smollm2\n  \
    tinychat chat --pipeline web/models/default --stats\n  \
    tinychat chat --model models/smollm2 --system \"You are a terse assistant.\" --temperature 0.7 --top-p 0.9\n  \
    printf 'Hello!\\nWhat is 2+2?\\n' | tinychat chat --model models/smollm2 --seed 1\n\n\
    Commands inside the chat: /reset clears the conversation (keeps --system), /quit or /exit\n\
    (or end of input) leaves, /help lists them.";

const HELP: &str = "commands: /reset clears the conversation, /quit leaves, /help shows this";

#[derive(Args, Debug)]
#[group(id = "source", required = true, multiple = false, args = ["model", "pipeline"])]
pub struct ChatArgs {
    /// Model directory with a chat template (tokenizer_config.json's chat_template), or a .gguf
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// A pipeline bundle (pipeline.json): every message and reply is moderated, and a template
    /// answers when either is flagged; stderr says when and why
    #[arg(long, value_name = "DIR")]
    pub pipeline: Option<PathBuf>,
    /// A system message that starts every conversation
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Print token counts and speed to stderr after each reply
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub dtype: DtypeArg,
}

/// What answers each turn: a chat model alone, or the moderated pipeline around one.
enum Responder {
    Model(ChatModel),
    Pipeline(Box<Pipeline>),
}

pub fn run(args: ChatArgs) -> Result<ExitCode> {
    let (responder, params) = match (&args.model, &args.pipeline) {
        (Some(dir), _) => {
            let model = args.dtype.apply(ChatModel::load(dir)?);
            if model.template.is_none() {
                return Err(Error::Template(format!(
                    "{} has no chat template (tokenizer_config.json's chat_template); use `tinychat generate` with a plain prompt",
                    dir.display()
                )));
            }
            let params = args.sampling.resolve(dir)?;
            (Responder::Model(model), params)
        }
        (None, Some(dir)) => {
            let mut p = Pipeline::load(dir)?;
            p.chat = args.dtype.apply(p.chat);
            // The bundle's sampling defaults (pipeline.json), as the browser uses them.
            let params = args.sampling.resolve_over(p.config.sampling.clone())?;
            (Responder::Pipeline(Box::new(p)), params)
        }
        (None, None) => unreachable!("clap requires --model or --pipeline"),
    };
    let shown = args
        .pipeline
        .as_ref()
        .or(args.model.as_ref())
        .expect("one is set");
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprintln!("tinychat: chatting with {} ({HELP})", shown.display());
    }

    let start: Vec<Message> = args.system.iter().map(|s| Message::system(s)).collect();
    let mut history = start.clone();
    let mut out = StreamOut::new();
    let mut failed_turns = 0;
    let mut turn: u64 = 0;
    let mut lines = stdin.lock();
    loop {
        if interactive {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        let n = lines
            .read_line(&mut line)
            .map_err(|e| Error::io("<stdin>", e))?;
        if n == 0 {
            break; // end of input
        }
        let line = line.trim_end_matches(['\n', '\r']);
        match line.trim() {
            "" => continue,
            "/quit" | "/exit" => break,
            "/reset" => {
                history = start.clone();
                if interactive {
                    eprintln!("(conversation cleared)");
                }
                continue;
            }
            "/help" => {
                eprintln!("{HELP}");
                continue;
            }
            cmd if cmd.starts_with('/') && !cmd.contains(char::is_whitespace) => {
                eprintln!("unknown command {cmd}; {HELP}");
                continue;
            }
            _ => {}
        }
        history.push(Message::user(line));
        let mut p = params.clone();
        p.seed = params.seed.wrapping_add(turn);
        turn += 1;
        let result = match &responder {
            Responder::Model(model) => {
                model.chat(&history, &p, |piece| out.write(piece)).map(|g| {
                    out.finish(&g.text);
                    dropped_note(g.dropped_turns);
                    if args.stats {
                        eprintln!("{}", stats_line(&g));
                    }
                    g.text
                })
            }
            Responder::Pipeline(pipe) => pipe
                .reply(&history, &p, |chunk| match chunk {
                    Chunk::Text { text } => {
                        out.write(text);
                    }
                    Chunk::Template {
                        text,
                        stage,
                        verdict,
                    } => {
                        let why = verdict.flagged_categories().join(", ");
                        let stage = match stage {
                            Stage::Input => "your message",
                            Stage::Output => "the model's reply",
                        };
                        // The marker goes to stderr so stdout holds only what the user sees.
                        eprintln!("[template answer: {stage} was flagged for {why}]");
                        out.write(text);
                    }
                })
                .map(|r| {
                    out.finish(&r.text);
                    dropped_note(r.dropped_turns);
                    if args.stats {
                        eprintln!(
                            "[{:?} route; {} prompt + {} completion tokens; {:.0} ms]",
                            r.route, r.prompt_tokens, r.completion_tokens, r.timings.total_ms
                        );
                    }
                    r.text
                }),
        };
        match result {
            Ok(text) => {
                history.push(Message::assistant(&text));
            }
            Err(e) => {
                // The turn is dropped; the conversation goes on.
                out.abort();
                history.pop();
                failed_turns += 1;
                let hint = if matches!(e, Error::PromptTooLong { .. }) {
                    " (this message alone does not fit the model's context: send a shorter one)"
                } else {
                    ""
                };
                eprintln!("error: {e}{hint}");
            }
        }
        if out.is_closed() {
            break;
        }
    }
    // A script that fed us messages learns that some turns failed.
    Ok(if failed_turns > 0 && !interactive {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Says on stderr when the oldest turns were left out to fit the context.
fn dropped_note(n: usize) {
    if n > 0 {
        eprintln!(
            "[the oldest {n} turn{} left out: the conversation outgrew the model's context]",
            if n == 1 { " was" } else { "s were" }
        );
    }
}
