//! `tinychat chat`: a conversation on stdin/stdout with the model's chat template.
//!
//! One user message per line. The conversation is kept and re-rendered through the template on
//! every turn (as transformers' chat pipelines do). Lines starting with `/` are commands.
//! Works the same when stdin is a file or a pipe, which is how it is tested; then only the
//! replies go to stdout, one per turn, each ending with a newline.

use crate::generate::{stats_line, StreamOut};
use crate::sampling::SamplingArgs;
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::{ChatModel, Error, Message, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat chat --model models/smollm2\n  \
    tinychat chat --model models/smollm2 --system \"You are a terse assistant.\" --temperature 0.7 --top-p 0.9\n  \
    printf 'Hello!\\nWhat is 2+2?\\n' | tinychat chat --model models/smollm2 --seed 1\n\n\
    Commands inside the chat: /reset clears the conversation (keeps --system), /quit or /exit\n\
    (or end of input) leaves, /help lists them.";

const HELP: &str = "commands: /reset clears the conversation, /quit leaves, /help shows this";

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Model directory with a chat template (tokenizer_config.json's chat_template)
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// A system message that starts every conversation
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Print token counts and speed to stderr after each reply
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(args: ChatArgs) -> Result<ExitCode> {
    let params = args.sampling.resolve(&args.model)?;
    let model = ChatModel::load(&args.model)?;
    if model.template.is_none() {
        return Err(Error::Template(format!(
            "{} has no chat template (tokenizer_config.json's chat_template); use `tinychat generate` with a plain prompt",
            args.model.display()
        )));
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprintln!("tinychat: chatting with {} ({HELP})", args.model.display());
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
        match model.chat(&history, &p, |piece| out.write(piece)) {
            Ok(g) => {
                out.finish(&g.text);
                if args.stats {
                    eprintln!("{}", stats_line(&g));
                }
                history.push(Message::assistant(&g.text));
            }
            Err(e) => {
                // The turn is dropped; the conversation goes on.
                out.abort();
                history.pop();
                failed_turns += 1;
                let hint = if matches!(e, Error::PromptTooLong { .. }) {
                    " (the conversation no longer fits the context: /reset starts a new one)"
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
