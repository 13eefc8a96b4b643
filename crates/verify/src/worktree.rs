//! The working tree: every regular file under the root, whatever `.gitignore` says (an ignored
//! `.env` is exactly what this check is for), except anything inside a `.git` directory (or a
//! submodule's `.git` file) and paths matching the exclude globs (build output such as
//! `target/` and `node_modules/` by default, see [`crate::DEFAULT_EXCLUDES`]). Symbolic links are
//! not followed: their content is a path.

use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use zeroize::Zeroizing;

use crate::git::GitScan;
use crate::{Finding, Location, Scanner, VerifyError};

/// Scans every file under `root` but the [`crate::DEFAULT_EXCLUDES`] and returns the findings
/// with [`Location::File`] locations, paths relative to `root`.
pub fn scan_worktree(root: &Path, scanner: &Scanner) -> Result<GitScan, VerifyError> {
    let mut scan = GitScan::default();
    let defaults: Vec<String> = crate::DEFAULT_EXCLUDES
        .iter()
        .map(|g| (*g).to_owned())
        .collect();
    scan_into(root, scanner, &exclude_set(&defaults)?, &mut scan)?;
    crate::sort_findings(&mut scan.findings);
    Ok(scan)
}

/// Compiles exclude globs; a bad glob is a [`VerifyError::ParseExclude`] naming it.
pub(crate) fn exclude_set(globs: &[String]) -> Result<GlobSet, VerifyError> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let bad = |e: globset::Error| VerifyError::ParseExclude {
            glob: glob.clone(),
            message: e.kind().to_string(),
        };
        set.add(
            GlobBuilder::new(glob.trim_end_matches('/'))
                .literal_separator(true)
                .build()
                .map_err(bad)?,
        );
    }
    set.build().map_err(|e| VerifyError::ParseExclude {
        glob: globs.join(", "),
        message: e.kind().to_string(),
    })
}

/// Adds the working tree's findings and counters to `scan`, skipping paths in `exclude`.
pub(crate) fn scan_into(
    root: &Path,
    scanner: &Scanner,
    exclude: &GlobSet,
    scan: &mut GitScan,
) -> Result<(), VerifyError> {
    let mut buf = Zeroizing::new(Vec::new());
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| VerifyError::ReadDir {
            path: dir.clone(),
            source,
        })?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| VerifyError::ReadDir {
                path: dir.clone(),
                source,
            })?;
            names.push(entry);
        }
        names.sort_by_key(std::fs::DirEntry::file_name);
        for entry in names {
            let name = entry.file_name();
            if name == ".git" {
                continue;
            }
            let path: PathBuf = entry.path();
            let rel_path = if rel.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            if exclude.is_match(&rel_path) {
                continue;
            }
            let kind = entry.file_type().map_err(|source| VerifyError::ReadFile {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                dirs.push((path, rel_path));
            } else if kind.is_file() {
                read_into(&path, &mut buf)?;
                scan.stats.files += 1;
                scan.stats.file_bytes += buf.len() as u64;
                for hit in scanner.scan(&buf) {
                    let location = Location::File {
                        path: rel_path.clone(),
                        line: Some(hit.line),
                    };
                    scan.findings
                        .push(Finding::new(hit.rule, location, hit.message));
                }
            }
        }
    }
    Ok(())
}

/// Reads a whole file into `buf`, reusing its allocation. Growth is done by reserving the file's
/// size up front, so no unwiped copy is left behind by a reallocation.
fn read_into(path: &Path, buf: &mut Zeroizing<Vec<u8>>) -> Result<(), VerifyError> {
    let err = |source| VerifyError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    zeroize::Zeroize::zeroize(&mut buf[..]);
    buf.clear();
    if buf.capacity() < len.saturating_add(1) {
        *buf = Zeroizing::new(Vec::with_capacity(len.saturating_add(1)));
    }
    file.read_to_end(buf).map_err(err)?;
    Ok(())
}
