//! The Git half of `ferry verify`: every blob in the object store (loose and packed), read
//! straight from the object database with gix rather than through `git log -p`, so merge
//! results, deleted files and unreachable objects are all covered. Each blob is scanned once
//! (de-duplicated by object id), then attributed to the first commit, in topological order
//! (parents first), whose tree holds it, and its path there. Blobs no commit reaches are
//! reported as `unreachable blob <id>`.

use std::path::Path;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::{CommitRefIter, Find, Kind, TagRefIter, TreeRefIter};
use gix::{ObjectId, Repository};

use crate::objects::{self, BlobSink};
use crate::{Finding, Location, Scanner, VerifyError, sort_findings, worktree};

/// Pack delta-base cache for commit and tree reads during attribution, in bytes.
const PACK_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Working-tree paths skipped by default: build output and dependency caches, which hold no
/// committed content and can be large. History is always scanned whole.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "**/target",
    "**/node_modules",
    "**/.venv",
    "**/venv",
    "**/__pycache__",
    "**/.tox",
];

/// What to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitScanOptions {
    /// Scan every file of the working tree (all but `.git/` and [`Self::exclude`]), if the
    /// repository has one.
    pub worktree: bool,
    /// Scan every blob of the object store.
    pub history: bool,
    /// Globs over working-tree paths relative to the root (`/`-separated; `*` stays within a
    /// directory, `**` crosses them). A matching directory is skipped with everything under it.
    /// Default: [`DEFAULT_EXCLUDES`].
    pub exclude: Vec<String>,
}

impl Default for GitScanOptions {
    fn default() -> Self {
        Self {
            worktree: true,
            history: true,
            exclude: DEFAULT_EXCLUDES.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

/// Counters of a scan, for progress output and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Commits reachable from the refs and HEAD.
    pub commits: u64,
    /// Distinct trees walked for attribution.
    pub trees: u64,
    /// Distinct blobs scanned.
    pub blobs: u64,
    /// Bytes of those blobs (uncompressed).
    pub blob_bytes: u64,
    /// Blobs no commit reaches.
    pub unreachable_blobs: u64,
    /// Working-tree files scanned.
    pub files: u64,
    /// Bytes of those files.
    pub file_bytes: u64,
}

/// Findings and counters of a Git scan.
#[derive(Debug, Clone, Default)]
pub struct GitScan {
    /// What was found, in scan order (working tree first, then blobs in pack order).
    pub findings: Vec<Finding>,
    /// What was scanned.
    pub stats: ScanStats,
}

/// Scans the repository at `path` (its working tree and/or every blob, per `options`).
pub fn scan_git(
    path: &Path,
    scanner: &Scanner,
    options: &GitScanOptions,
) -> Result<GitScan, VerifyError> {
    let repo = open(path)?;
    let mut scan = GitScan::default();
    if options.worktree
        && let Some(root) = repo.workdir()
    {
        let exclude = worktree::exclude_set(&options.exclude)?;
        worktree::scan_into(root, scanner, &exclude, &mut scan)?;
    }
    if options.history {
        history_into(&repo, scanner, &mut scan)?;
    }
    sort_findings(&mut scan.findings);
    Ok(scan)
}

/// Scans every blob of the object store of the repository at `path` (no working tree).
pub fn scan_history(path: &Path, scanner: &Scanner) -> Result<GitScan, VerifyError> {
    let repo = open(path)?;
    let mut scan = GitScan::default();
    history_into(&repo, scanner, &mut scan)?;
    sort_findings(&mut scan.findings);
    Ok(scan)
}

/// Opens a repository without reading global or system configuration, environment overrides or
/// includes: only the object database and refs matter here.
fn open(path: &Path) -> Result<Repository, VerifyError> {
    let mut repo = gix::open_opts(path, gix::open::Options::isolated()).map_err(|source| {
        VerifyError::OpenRepo {
            path: path.to_path_buf(),
            source,
        }
    })?;
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            PACK_CACHE_BYTES,
        ))
    });
    repo.objects.unset_object_cache();
    Ok(repo)
}

/// Where a blob was first seen.
struct Origin {
    commit: Option<u32>,
    path: String,
}

/// Blob origins found by walking commits and trees, for the blobs that had hits.
struct Attribution {
    commits: Vec<ObjectId>,
    origins: HashMap<ObjectId, Origin>,
    wanted: HashSet<ObjectId>,
    seen: HashSet<ObjectId>,
}

impl Attribution {
    fn done(&self) -> bool {
        self.origins.len() == self.wanted.len()
    }
}

/// Scans each blob as the object database yields it; keeps only blobs with hits.
struct Collect<'a> {
    scanner: &'a Scanner,
    stats: ScanStats,
    flagged: Vec<(ObjectId, Vec<crate::Hit>)>,
}

impl BlobSink for Collect<'_> {
    fn blob(&mut self, id: &ObjectId, data: &[u8]) {
        self.stats.blobs += 1;
        self.stats.blob_bytes += data.len() as u64;
        let hits = self.scanner.scan(data);
        if !hits.is_empty() {
            self.flagged.push((*id, hits));
        }
    }
}

fn history_into(
    repo: &Repository,
    scanner: &Scanner,
    scan: &mut GitScan,
) -> Result<(), VerifyError> {
    let mut collect = Collect {
        scanner,
        stats: ScanStats::default(),
        flagged: Vec::new(),
    };
    let objects_dir = repo.common_dir().join("objects");
    objects::for_each_blob(&objects_dir, repo.object_hash(), &mut collect)?;
    scan.stats.blobs += collect.stats.blobs;
    scan.stats.blob_bytes += collect.stats.blob_bytes;
    if collect.flagged.is_empty() {
        return Ok(());
    }
    // Attribution only for blobs with hits: a clean history costs one pass over the packs.
    let wanted: HashSet<ObjectId> = collect.flagged.iter().map(|(id, _)| *id).collect();
    let mut buf = Vec::with_capacity(1 << 16);
    let at = attribute(repo, wanted, &mut buf, &mut scan.stats)?;
    for (id, hits) in collect.flagged {
        let origin = at.origins.get(&id);
        if origin.is_none() {
            scan.stats.unreachable_blobs += 1;
        }
        for hit in hits {
            let location = Location::Git {
                commit: origin
                    .and_then(|o| o.commit)
                    .and_then(|c| at.commits.get(c as usize))
                    .map(ObjectId::to_string),
                path: origin.map_or_else(|| format!("unreachable blob {id}"), |o| o.path.clone()),
                line: Some(hit.line),
                blob: id.to_string(),
            };
            scan.findings
                .push(Finding::new(hit.rule, location, hit.message));
        }
    }
    Ok(())
}

/// Reads an object that must exist, returning its kind and bytes in `buf`.
fn read<'a>(
    repo: &Repository,
    id: &ObjectId,
    buf: &'a mut Vec<u8>,
) -> Result<Option<(Kind, &'a [u8])>, VerifyError> {
    match repo.objects.try_find(id, buf) {
        Ok(Some(d)) => Ok(Some((d.kind, d.data))),
        Ok(None) => Ok(None),
        Err(source) => Err(VerifyError::ReadObject {
            id: id.to_string(),
            source,
        }),
    }
}

/// The objects refs point at (tags peeled), plus HEAD when it is detached.
fn tips(repo: &Repository) -> Result<Vec<(ObjectId, String)>, VerifyError> {
    let mut out = Vec::new();
    let platform = repo.references().map_err(VerifyError::ListRefs)?;
    for r in platform.all().map_err(VerifyError::ListRefs)? {
        let r = r.map_err(VerifyError::ListRefs)?;
        if let gix::refs::TargetRef::Object(id) = r.target() {
            out.push((id.to_owned(), r.name().as_bstr().to_string()));
        }
    }
    if let Ok(head) = repo.head_id() {
        out.push((head.detach(), "HEAD".to_string()));
    }
    Ok(out)
}

/// Walks all commits reachable from all refs (parents before children), then their trees,
/// recording the first (commit, path) of every blob.
fn attribute(
    repo: &Repository,
    wanted: HashSet<ObjectId>,
    buf: &mut Vec<u8>,
    stats: &mut ScanStats,
) -> Result<Attribution, VerifyError> {
    let hash = repo.object_hash();
    let mut at = Attribution {
        commits: Vec::new(),
        origins: HashMap::default(),
        wanted,
        seen: HashSet::default(),
    };
    // (commit id, tree id) in topological order, and tree-or-blob tips without a commit.
    let mut order: Vec<(ObjectId, ObjectId)> = Vec::new();
    let mut loose_tips: Vec<(ObjectId, Kind, String)> = Vec::new();
    let mut stack: Vec<(ObjectId, Option<ObjectId>)> = Vec::new();
    for (mut id, name) in tips(repo)? {
        // Peel tags; keep whatever they end at.
        loop {
            let Some((kind, data)) = read(repo, &id, buf)? else {
                break;
            };
            match kind {
                Kind::Tag => {
                    at.seen.insert(id);
                    id = TagRefIter::from_bytes(data, hash)
                        .target_id()
                        .map_err(|_| decode_err("tag", &id))?;
                }
                Kind::Commit => {
                    stack.push((id, None));
                    break;
                }
                other => {
                    loose_tips.push((id, other, name));
                    break;
                }
            }
        }
    }
    // Iterative post-order DFS: a commit is emitted once all its parents are.
    while let Some((id, tree)) = stack.pop() {
        if let Some(tree) = tree {
            order.push((id, tree));
            continue;
        }
        if !at.seen.insert(id) {
            continue;
        }
        // A missing parent is a shallow clone's boundary: history stops there.
        let Some((Kind::Commit, data)) = read(repo, &id, buf)? else {
            continue;
        };
        let mut iter = CommitRefIter::from_bytes(data, hash);
        let tree = iter.tree_id().map_err(|_| decode_err("commit", &id))?;
        let parents: Vec<ObjectId> = iter.parent_ids().collect();
        stack.push((id, Some(tree)));
        for p in parents.into_iter().rev() {
            if !at.seen.contains(&p) {
                stack.push((p, None));
            }
        }
    }
    stats.commits = order.len() as u64;
    for (commit, tree) in order {
        if at.done() {
            break;
        }
        let index = u32::try_from(at.commits.len()).unwrap_or(u32::MAX);
        at.commits.push(commit);
        walk_tree(repo, tree, Some(index), buf, &mut at, stats)?;
    }
    for (id, kind, name) in loose_tips {
        match kind {
            Kind::Tree => walk_tree(repo, id, None, buf, &mut at, stats)?,
            Kind::Blob if at.wanted.contains(&id) => {
                at.origins.entry(id).or_insert(Origin {
                    commit: None,
                    path: format!("(blob at ref {name})"),
                });
            }
            _ => {}
        }
    }
    Ok(at)
}

/// Walks a tree not seen before, and its subtrees not seen before.
fn walk_tree(
    repo: &Repository,
    root: ObjectId,
    commit: Option<u32>,
    buf: &mut Vec<u8>,
    at: &mut Attribution,
    stats: &mut ScanStats,
) -> Result<(), VerifyError> {
    let hash = repo.object_hash();
    let mut stack: Vec<(ObjectId, String)> = vec![(root, String::new())];
    while let Some((id, prefix)) = stack.pop() {
        if !at.seen.insert(id) {
            continue;
        }
        stats.trees += 1;
        let Some((Kind::Tree, data)) = read(repo, &id, buf)? else {
            return Err(VerifyError::MissingObject { id: id.to_string() });
        };
        for entry in TreeRefIter::from_bytes(data, hash) {
            let entry = entry.map_err(|_| decode_err("tree", &id))?;
            let wanted = if entry.mode.is_tree() {
                !at.seen.contains(entry.oid)
            } else {
                entry.mode.is_blob_or_symlink()
                    && at.wanted.contains(entry.oid)
                    && !at.origins.contains_key(entry.oid)
            };
            if !wanted {
                continue;
            }
            let name = String::from_utf8_lossy(entry.filename);
            let path = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}/{name}")
            };
            if entry.mode.is_tree() {
                stack.push((entry.oid.to_owned(), path));
            } else {
                at.origins
                    .insert(entry.oid.to_owned(), Origin { commit, path });
            }
        }
    }
    Ok(())
}

fn decode_err(kind: &'static str, id: &ObjectId) -> VerifyError {
    VerifyError::DecodeObject {
        kind,
        id: id.to_string(),
    }
}
