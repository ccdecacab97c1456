//! The file as it was opened: a regular file or a pipe (devices, sockets and directories
//! refused), and what it was, to tell at its end whether it changed while it was read.
use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// What the file was when it was opened, to tell at the end whether it changed while it was
/// read: truncated, appended to, rewritten in place or replaced by another file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    size: u64,
    modified: Option<std::time::SystemTime>,
    inode: (u64, u64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            size: meta.len(),
            modified: meta.modified().ok(),
            inode: (meta.dev(), meta.ino()),
        }
    }
}

/// A regular file's open handle and what it was, checked once its end is read.
pub(crate) struct Opened {
    handle: File,
    identity: Identity,
}

impl Opened {
    /// At the end of a regular file: the bytes read must be the whole file as it was opened,
    /// and the path must still name that file, unchanged. Otherwise what was read is neither
    /// the old file nor the new one.
    pub(super) fn check_unchanged(&self, path: &Path, read: u64) -> Result<()> {
        let opened = &self.identity;
        let now = self.handle.metadata().map(|m| Identity::of(&m)).ok();
        let named = std::fs::metadata(path).map(|m| Identity::of(&m).inode).ok();
        let mut changes = Vec::new();
        if read != opened.size {
            changes.push(format!(
                "{} bytes read of the {} it had",
                crate::format::thousands(read as i64),
                crate::format::thousands(opened.size as i64)
            ));
        }
        match &now {
            Some(now) if now.size != opened.size => changes.push(format!(
                "its size went from {} to {} bytes",
                crate::format::thousands(opened.size as i64),
                crate::format::thousands(now.size as i64)
            )),
            Some(now) if now.modified != opened.modified => {
                changes.push("it was written to".into())
            }
            Some(_) => {}
            None => changes.push("it can no longer be examined".into()),
        }
        if named != Some(opened.inode) {
            changes.push("the path now names another file".into());
        }
        if changes.is_empty() {
            return Ok(());
        }
        Err(Error::File {
            path: path.to_owned(),
            problem: format!(
                "the file changed while it was read ({}); nothing of it can be promoted, \
                 check it again once it is complete",
                changes.join("; ")
            ),
        })
    }
}

/// Opens a regular file or a pipe (a FIFO, `/dev/stdin` fed by a pipe); a device, a socket
/// or a directory is refused: it has no end, or no records.
pub(super) fn open_file(path: &Path) -> Result<(File, Option<Opened>)> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        cause: source,
    };
    let kind = std::fs::metadata(path).map_err(io)?.file_type();
    if !kind.is_file() && !is_pipe(&kind) {
        return Err(Error::File {
            path: path.to_owned(),
            problem: format!(
                "is {}, not a file; Airlock reads regular files and pipes",
                describe_kind(&kind)
            ),
        });
    }
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let opened = match meta.is_file() {
        true => Some(Opened {
            handle: file.try_clone().map_err(io)?,
            identity: Identity::of(&meta),
        }),
        false => None,
    };
    Ok((file, opened))
}

fn is_pipe(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}
