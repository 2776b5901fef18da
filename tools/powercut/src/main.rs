//! `powercut`: a FUSE filesystem that models a power cut.
//!
//! ```text
//! powercut BACKING MOUNTPOINT CONTROL_DIR
//! ```
//!
//! The filesystem starts with the contents of `BACKING`, all of it durable. While mounted it
//! keeps two states per file and directory: the live one every read sees, and the durable one:
//! a file's data as of its last `fsync`/`fdatasync`, a directory's entries as of its last
//! `fsync` of the directory. Creating, renaming or unlinking a name changes only the live
//! entries of the directory until that directory is synced (the strict POSIX model: a new
//! file whose directory was never synced does not survive, a rename not followed by a sync of
//! the directory is undone).
//!
//! Control, through files the harness creates in `CONTROL_DIR` (polled every 2 ms):
//! - `sync`: everything becomes durable (models a completed set-up); answered with `sync.done`.
//! - `cut`: the power cut. At one instant the durable image is taken, `BACKING` is rewritten to
//!   hold exactly that image, every later operation fails with `EIO`, and `cut.done` is written
//!   with a report of what the cut lost (paths and byte counts only). Then unmount
//!   (`umount -l MOUNTPOINT`); the process exits when the kernel ends the session.
//!
//! A test tool, not product code: it keeps everything in memory.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

/// Attributes and entries are never cached by the kernel: every process sees the live state.
const TTL: Duration = Duration::ZERO;

enum Body {
    File {
        data: Vec<u8>,
        /// Data as of the last fsync/fdatasync; `None`: never synced (empty after a cut).
        synced: Option<Vec<u8>>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        /// Entries as of the last fsync of this directory.
        synced: BTreeMap<OsString, u64>,
    },
}

struct Node {
    body: Body,
    perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    ctime: SystemTime,
}

#[derive(Default)]
struct Stats {
    writes: u64,
    fsyncs: u64,
    dir_fsyncs: u64,
}

struct State {
    nodes: HashMap<u64, Node>,
    next: u64,
    cut: bool,
    stats: Stats,
}

struct PowerCut {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Node {
    fn new(body: Body, perm: u16, uid: u32, gid: u32) -> Self {
        let now = SystemTime::now();
        Self {
            body,
            perm,
            uid,
            gid,
            mtime: now,
            ctime: now,
        }
    }

    fn attr(&self, ino: u64) -> FileAttr {
        let (kind, size, nlink) = match &self.body {
            Body::File { data, .. } => (FileType::RegularFile, data.len() as u64, 1),
            Body::Dir { .. } => (FileType::Directory, 0, 2),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: self.mtime,
            mtime: self.mtime,
            ctime: self.ctime,
            crtime: self.ctime,
            kind,
            perm: self.perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

impl State {
    fn load(backing: &Path) -> std::io::Result<Self> {
        let mut s = Self {
            nodes: HashMap::new(),
            next: 2,
            cut: false,
            stats: Stats::default(),
        };
        let root = s.load_dir(backing)?;
        s.nodes.insert(1, root);
        Ok(s)
    }

    fn load_dir(&mut self, dir: &Path) -> std::io::Result<Node> {
        let mut entries = BTreeMap::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let meta = e.metadata()?;
            let perm = (meta.permissions().mode() & 0o7777) as u16;
            let node = if meta.is_dir() {
                let mut n = self.load_dir(&e.path())?;
                n.perm = perm;
                n
            } else if meta.is_file() {
                let data = std::fs::read(e.path())?;
                Node::new(
                    Body::File {
                        synced: Some(data.clone()),
                        data,
                    },
                    perm,
                    0,
                    0,
                )
            } else {
                continue;
            };
            let ino = self.next;
            self.next += 1;
            self.nodes.insert(ino, node);
            entries.insert(e.file_name(), ino);
        }
        Ok(Node::new(
            Body::Dir {
                synced: entries.clone(),
                entries,
            },
            0o755,
            0,
            0,
        ))
    }

    fn node(&self, ino: INodeNo) -> Result<&Node, Errno> {
        if self.cut {
            return Err(Errno::EIO);
        }
        self.nodes.get(&ino.0).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: INodeNo) -> Result<&mut Node, Errno> {
        if self.cut {
            return Err(Errno::EIO);
        }
        self.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)
    }

    fn entries_mut(&mut self, ino: INodeNo) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.node_mut(ino)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File { .. } => Err(Errno::ENOTDIR),
        }
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<u64, Errno> {
        match &self.node(parent)?.body {
            Body::Dir { entries, .. } => entries.get(name).copied().ok_or(Errno::ENOENT),
            Body::File { .. } => Err(Errno::ENOTDIR),
        }
    }

    fn add(&mut self, parent: INodeNo, name: &OsStr, node: Node) -> Result<FileAttr, Errno> {
        if self.child(parent, name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let ino = self.next;
        self.next += 1;
        let attr = node.attr(ino);
        self.nodes.insert(ino, node);
        self.entries_mut(parent)?.insert(name.to_owned(), ino);
        self.touch(parent.0);
        Ok(attr)
    }

    fn touch(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            let now = SystemTime::now();
            n.mtime = now;
            n.ctime = now;
        }
    }

    /// Marks everything durable.
    fn sync_all(&mut self) {
        for n in self.nodes.values_mut() {
            match &mut n.body {
                Body::File { data, synced } => *synced = Some(data.clone()),
                Body::Dir { entries, synced } => *synced = entries.clone(),
            }
        }
    }

    /// Writes the durable image under `out` (which exists and is empty), and reports what the
    /// live state had that the image lacks.
    fn write_image(
        &self,
        ino: u64,
        out: &Path,
        live_path: &str,
        report: &mut String,
    ) -> std::io::Result<()> {
        let Some(Node {
            body: Body::Dir { entries, synced },
            ..
        }) = self.nodes.get(&ino)
        else {
            return Ok(());
        };
        for (name, child) in entries {
            if synced.get(name) != Some(child) {
                let _ = writeln!(
                    report,
                    "entry lost: {live_path}/{} (its directory was not synced after it was created or renamed)",
                    name.to_string_lossy()
                );
            }
        }
        for (name, child) in synced {
            if entries.get(name) != Some(child) {
                let _ = writeln!(
                    report,
                    "entry restored: {live_path}/{} (removed or renamed without a directory sync)",
                    name.to_string_lossy()
                );
            }
        }
        for (name, child) in synced {
            let Some(node) = self.nodes.get(child) else {
                continue;
            };
            let path = out.join(name);
            let shown = format!("{live_path}/{}", name.to_string_lossy());
            match &node.body {
                Body::Dir { .. } => {
                    std::fs::create_dir(&path)?;
                    self.write_image(*child, &path, &shown, report)?;
                }
                Body::File { data, synced } => {
                    let durable = synced.as_deref().unwrap_or(&[]);
                    if durable != data.as_slice() {
                        let common = durable.iter().zip(data).take_while(|(a, b)| a == b).count();
                        let _ = writeln!(
                            report,
                            "data lost: {shown}: live {} bytes, durable {} bytes, equal prefix {common} bytes",
                            data.len(),
                            durable.len()
                        );
                    }
                    std::fs::write(&path, durable)?;
                }
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(u32::from(node.perm)))?;
        }
        Ok(())
    }

    /// The power cut: the backing directory becomes the durable image; the mount fails from now.
    fn cut(&mut self, backing: &Path) -> std::io::Result<String> {
        self.cut = true;
        let mut report = format!(
            "writes {}, file syncs {}, directory syncs {}\n",
            self.stats.writes, self.stats.fsyncs, self.stats.dir_fsyncs
        );
        for e in std::fs::read_dir(backing)? {
            let p = e?.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        self.write_image(1, backing, ".", &mut report)?;
        Ok(report)
    }
}

impl Filesystem for PowerCut {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let s = lock(&self.state);
        match s
            .child(parent, name)
            .and_then(|ino| Ok(s.node(INodeNo(ino))?.attr(ino)))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let s = lock(&self.state);
        match s.node(ino) {
            Ok(n) => reply.attr(&TTL, &n.attr(ino.0)),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut s = lock(&self.state);
        let n = match s.node_mut(ino) {
            Ok(n) => n,
            Err(e) => return reply.error(e),
        };
        if let Some(m) = mode {
            n.perm = (m & 0o7777) as u16;
        }
        if let Some(u) = uid {
            n.uid = u;
        }
        if let Some(g) = gid {
            n.gid = g;
        }
        if let Some(size) = size {
            match &mut n.body {
                Body::File { data, .. } => data.resize(usize::try_from(size).unwrap_or(0), 0),
                Body::Dir { .. } => return reply.error(Errno::EISDIR),
            }
        }
        let now = SystemTime::now();
        n.mtime = match mtime {
            Some(TimeOrNow::SpecificTime(t)) => t,
            Some(TimeOrNow::Now) => now,
            None if size.is_some() => now,
            None => n.mtime,
        };
        n.ctime = now;
        reply.attr(&TTL, &n.attr(ino.0));
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut s = lock(&self.state);
        let node = Node::new(
            Body::Dir {
                entries: BTreeMap::new(),
                synced: BTreeMap::new(),
            },
            (mode & !umask & 0o7777) as u16,
            req.uid(),
            req.gid(),
        );
        match s.add(parent, name, node) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut s = lock(&self.state);
        let node = Node::new(
            Body::File {
                data: Vec::new(),
                synced: None,
            },
            (mode & !umask & 0o7777) as u16,
            req.uid(),
            req.gid(),
        );
        match s.add(parent, name, node) {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let mut s = lock(&self.state);
        let node = Node::new(
            Body::File {
                data: Vec::new(),
                synced: None,
            },
            (mode & !umask & 0o7777) as u16,
            req.uid(),
            req.gid(),
        );
        match s.add(parent, name, node) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut s = lock(&self.state);
        let r = s.child(parent, name).and_then(|ino| {
            if matches!(s.node(INodeNo(ino))?.body, Body::Dir { .. }) {
                return Err(Errno::EISDIR);
            }
            s.entries_mut(parent)?.remove(name);
            s.touch(parent.0);
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut s = lock(&self.state);
        let r = s.child(parent, name).and_then(|ino| {
            match &s.node(INodeNo(ino))?.body {
                Body::Dir { entries, .. } if entries.is_empty() => {}
                Body::Dir { .. } => return Err(Errno::ENOTEMPTY),
                Body::File { .. } => return Err(Errno::ENOTDIR),
            }
            s.entries_mut(parent)?.remove(name);
            s.touch(parent.0);
            Ok(())
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut s = lock(&self.state);
        let r = (|| {
            if flags.contains(RenameFlags::RENAME_EXCHANGE) {
                return Err(Errno::EINVAL);
            }
            let ino = s.child(parent, name)?;
            if let Ok(existing) = s.child(newparent, newname) {
                if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                    return Err(Errno::EEXIST);
                }
                if let Body::Dir { entries, .. } = &s.node(INodeNo(existing))?.body
                    && !entries.is_empty()
                {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            s.entries_mut(parent)?.remove(name);
            s.entries_mut(newparent)?.insert(newname.to_owned(), ino);
            s.touch(parent.0);
            s.touch(newparent.0);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut s = lock(&self.state);
        match s.node_mut(ino) {
            Ok(n) => {
                if flags.0 & libc::O_TRUNC != 0
                    && let Body::File { data, .. } = &mut n.body
                {
                    data.clear();
                }
                reply.opened(FileHandle(0), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let s = lock(&self.state);
        match s.node(ino).map(|n| &n.body) {
            Ok(Body::File { data, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(size as usize).min(data.len());
                reply.data(&data[start..end]);
            }
            Ok(Body::Dir { .. }) => reply.error(Errno::EISDIR),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        buf: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut s = lock(&self.state);
        s.stats.writes += 1;
        let r = match s.node_mut(ino) {
            Ok(n) => {
                let now = SystemTime::now();
                n.mtime = now;
                n.ctime = now;
                match &mut n.body {
                    Body::File { data, .. } => {
                        let at = usize::try_from(offset).unwrap_or(usize::MAX);
                        let end = at.saturating_add(buf.len());
                        if data.len() < end {
                            data.resize(end, 0);
                        }
                        data[at..end].copy_from_slice(buf);
                        Ok(buf.len())
                    }
                    Body::Dir { .. } => Err(Errno::EISDIR),
                }
            }
            Err(e) => Err(e),
        };
        match r {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lo: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() is not a sync.
        if lock(&self.state).cut {
            reply.error(Errno::EIO);
        } else {
            reply.ok();
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = lock(&self.state);
        s.stats.fsyncs += 1;
        match s.node_mut(ino).map(|n| &mut n.body) {
            Ok(Body::File { data, synced }) => {
                *synced = Some(data.clone());
                reply.ok();
            }
            // fsync on a directory opened as a file (open(O_RDONLY) + fsync) syncs its entries.
            Ok(Body::Dir { entries, synced }) => {
                *synced = entries.clone();
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let s = lock(&self.state);
        match s.node(ino).map(|n| &n.body) {
            Ok(Body::Dir { .. }) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Ok(Body::File { .. }) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let s = lock(&self.state);
        let entries = match s.node(ino).map(|n| &n.body) {
            Ok(Body::Dir { entries, .. }) => entries,
            Ok(Body::File { .. }) => return reply.error(Errno::ENOTDIR),
            Err(e) => return reply.error(e),
        };
        let mut all: Vec<(u64, FileType, OsString)> = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ino.0, FileType::Directory, "..".into()),
        ];
        for (name, child) in entries {
            let kind = match s.nodes.get(child).map(|n| &n.body) {
                Some(Body::Dir { .. }) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            all.push((*child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all
            .into_iter()
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = lock(&self.state);
        s.stats.dir_fsyncs += 1;
        match s.node_mut(ino).map(|n| &mut n.body) {
            Ok(Body::Dir { entries, synced }) => {
                *synced = entries.clone();
                reply.ok();
            }
            Ok(Body::File { .. }) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 4096, 255, 4096);
    }
}

fn control_loop(state: &Mutex<State>, backing: &Path, control: &Path) {
    loop {
        std::thread::sleep(Duration::from_millis(2));
        if control.join("sync").exists() {
            lock(state).sync_all();
            let _ = std::fs::remove_file(control.join("sync"));
            let _ = std::fs::write(control.join("sync.done"), "ok\n");
        }
        if control.join("cut").exists() {
            let report = match lock(state).cut(backing) {
                Ok(r) => r,
                Err(e) => format!("error writing the durable image: {e}\n"),
            };
            let _ = std::fs::write(control.join("cut.done"), report);
            return;
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [backing, mountpoint, control] = args.as_slice() else {
        eprintln!("usage: powercut BACKING MOUNTPOINT CONTROL_DIR");
        return std::process::ExitCode::from(2);
    };
    let state = match State::load(backing) {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => {
            eprintln!("powercut: cannot load {}: {e}", backing.display());
            return std::process::ExitCode::from(2);
        }
    };
    let mut config = Config::default();
    config.mount_options = vec![MountOption::FSName("powercut".into()), MountOption::RW];
    config.n_threads = Some(4);
    let fs = PowerCut {
        state: Arc::clone(&state),
    };
    let session = match fuser::spawn_mount(fs, mountpoint, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("powercut: cannot mount {}: {e}", mountpoint.display());
            return std::process::ExitCode::from(3);
        }
    };
    println!("powercut: mounted {}", mountpoint.display());
    control_loop(&state, backing, control);
    println!("powercut: cut");
    // Wait for the harness to unmount (umount -l); dropping the session would unmount too.
    if let Err(e) = session.join() {
        eprintln!("powercut: session ended with an error: {e}");
    }
    std::process::ExitCode::SUCCESS
}
