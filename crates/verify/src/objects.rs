//! Every blob of an object database, each once: packs are read with gix-pack's delta-tree
//! traversal (each object decoded exactly once, deltas applied from their in-memory base, in
//! pack order), then loose objects, then the same for each alternate object directory.
//! Duplicates across packs and loose objects are skipped by object id.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use gix::ObjectId;
use gix::hashtable::HashSet;
use gix::objs::Kind;
use gix::odb::pack;

use crate::VerifyError;

/// Receives each blob once.
pub(crate) trait BlobSink: Send {
    /// Called with a blob's id and content.
    fn blob(&mut self, id: &ObjectId, data: &[u8]);
}

/// Shared between the traversal's processor clones.
struct State<'s> {
    seen: HashSet<ObjectId>,
    sink: &'s mut dyn BlobSink,
}

/// Feeds every blob under `objects_dir` (and its alternates) to `sink`, each once.
pub(crate) fn for_each_blob(
    objects_dir: &Path,
    hash: gix::hash::Kind,
    sink: &mut dyn BlobSink,
) -> Result<(), VerifyError> {
    let state = Arc::new(Mutex::new(State {
        seen: HashSet::default(),
        sink,
    }));
    for dir in object_dirs(objects_dir) {
        for idx in pack_indices(&dir)? {
            traverse_pack(&idx, hash, &state)?;
        }
        loose(&dir, hash, &state)?;
    }
    Ok(())
}

/// The objects directory and the alternates it lists (one level, as git resolves them
/// relative to the objects directory).
fn object_dirs(objects_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![objects_dir.to_path_buf()];
    if let Ok(text) = std::fs::read_to_string(objects_dir.join("info").join("alternates")) {
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                dirs.push(objects_dir.join(line));
            }
        }
    }
    dirs
}

fn pack_indices(dir: &Path) -> Result<Vec<PathBuf>, VerifyError> {
    let pack_dir = dir.join("pack");
    let entries = match std::fs::read_dir(&pack_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(VerifyError::ReadDir {
                path: pack_dir,
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| VerifyError::ReadDir {
                path: pack_dir.clone(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == "idx") && path.with_extension("pack").is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn traverse_pack(
    idx: &Path,
    hash: gix::hash::Kind,
    state: &Arc<Mutex<State<'_>>>,
) -> Result<(), VerifyError> {
    let read_err = |source| VerifyError::ReadPack {
        path: idx.to_path_buf(),
        source,
    };
    let bundle = pack::Bundle::at(idx, hash).map_err(read_err)?;
    let state = Arc::clone(state);
    let processor =
        move |kind: Kind, data: &[u8], entry: &pack::index::Entry, _: &dyn gix::Progress| {
            if kind == Kind::Blob {
                let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                if s.seen.insert(entry.oid) {
                    s.sink.blob(&entry.oid, data);
                }
            }
            Ok(())
        };
    bundle
        .index
        .traverse_with_index(
            &bundle.pack,
            processor,
            &mut gix::progress::Discard,
            &AtomicBool::new(false),
            pack::index::traverse::with_index::Options {
                thread_limit: Some(1),
                check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification,
                alloc_limit_bytes: None,
            },
        )
        .map_err(read_err)?;
    Ok(())
}

fn loose(
    dir: &Path,
    hash: gix::hash::Kind,
    state: &Arc<Mutex<State<'_>>>,
) -> Result<(), VerifyError> {
    let store = gix::odb::loose::Store::at(dir, hash);
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    for id in store.iter() {
        let id = id.map_err(|e| VerifyError::ListObjects(gix::Error::from_error(e)))?;
        if s.seen.contains(&id) {
            continue;
        }
        let data = store
            .try_find(&id, &mut buf)
            .map_err(|source| VerifyError::ReadObject {
                id: id.to_string(),
                source,
            })?;
        if let Some(data) = data
            && data.kind == Kind::Blob
        {
            s.seen.insert(id);
            s.sink.blob(&id, data.data);
        }
    }
    Ok(())
}
