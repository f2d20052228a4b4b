//! Beaker's `file` back end: one pickle per session under `data_dir/container_file`,
//! guarded by an `flock` on a lock file under `data_dir/container_file_lock`.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use super::Cas;
use crate::store::StoreError;

/// The longest session file read: a bigger one is corrupt, not a reason to fill memory.
const MAX_FILE: u64 = 16 << 20;

/// How often a waiting request tries the lock again.
const POLL: Duration = Duration::from_millis(5);

/// Where the files and locks are, and how long to wait for a lock.
#[derive(Debug, Clone)]
pub(super) struct FileBackend {
    pub(super) file_dir: PathBuf,
    pub(super) lock_dir: PathBuf,
    pub(super) lock_wait: Duration,
}

/// A lock held on a session's lock file; released when dropped (the file is closed).
struct Held(#[allow(dead_code)] File);

impl FileBackend {
    pub(super) fn new(data_dir: &Path) -> Self {
        Self {
            file_dir: data_dir.join("container_file"),
            lock_dir: data_dir.join("container_file_lock"),
            lock_wait: Duration::from_secs(2),
        }
    }

    /// `util.encoded_path(file_dir, [id], ".cache", digest_filenames=False)`:
    /// `file_dir/<id[0]>/<id[:2]>/<id>.cache`. The id is 32 lowercase hex digits (the store
    /// checks it before any path is made), so it names no other place.
    pub(super) fn file_path(&self, id: &str) -> PathBuf {
        nested(&self.file_dir, id, ".cache")
    }

    /// `FileSynchronizer`'s lock file: `encoded_path(lock_dir, [id], ".lock")` with the
    /// digest on, so `lock_dir/<h[0]>/<h[:2]>/<h>.lock` for `h = sha1(id)` in hex.
    pub(super) fn lock_path(&self, id: &str) -> PathBuf {
        let digest = crate::random::to_hex(&Sha1::digest(id.as_bytes()));
        nested(&self.lock_dir, &digest, ".lock")
    }

    /// Takes the lock of `id`, shared (as Beaker reads) or exclusive (as it writes), waiting
    /// at most `lock_wait`: then the store is unavailable (`503`), never blocked forever by
    /// a stuck process.
    fn lock(&self, id: &str, exclusive: bool) -> Result<Held, StoreError> {
        let path = self.lock_path(id);
        // As Beaker's `os.open(O_CREAT | O_RDONLY)` for a reader (`O_WRONLY` for a writer);
        // std creates files only with write access, so a reader opens it read-only when it
        // is there.
        let file = match exclusive {
            false => match File::open(&path) {
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    open_creating(&path, |options| options.write(true))
                }
                opened => opened,
            },
            true => open_creating(&path, |options| options.write(true)),
        }
        .map_err(|err| io_error(&path, err))?;
        let deadline = Instant::now() + self.lock_wait;
        loop {
            let attempt = if exclusive {
                file.try_lock()
            } else {
                file.try_lock_shared()
            };
            match attempt {
                Ok(()) => return Ok(Held(file)),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(POLL)
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable {
                        reason: format!(
                            "the session's lock file {} stayed locked by another process for \
                             {:?}",
                            path.display(),
                            self.lock_wait
                        ),
                        source: None,
                    });
                }
                Err(TryLockError::Error(err)) => return Err(io_error(&path, err)),
            }
        }
    }

    /// The file's bytes, `None` when there is none. Call with the lock held.
    fn read_file(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.file_path(id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error(&path, err)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| io_error(&path, err))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(StoreError::Corrupt {
                key: "session".into(),
                reason: format!("{} is over {MAX_FILE} bytes", path.display()),
            });
        }
        Ok(Some(bytes))
    }

    /// `util.safe_write`: the bytes to `<file>.temp`, renamed over the file, so a reader
    /// never sees half a file. Call with the exclusive lock held (the temporary name is
    /// Beaker's own, shared by every writer of the session).
    fn write_file(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.file_path(id);
        let mut temp = path.clone().into_os_string();
        temp.push(".temp");
        let temp = PathBuf::from(temp);
        let mut file = open_creating(&temp, |options| options.write(true).truncate(true))
            .map_err(|err| io_error(&temp, err))?;
        file.write_all(bytes).map_err(|err| io_error(&temp, err))?;
        drop(file);
        fs::rename(&temp, &path).map_err(|err| io_error(&path, err))
    }

    fn remove_file(&self, id: &str) -> Result<(), StoreError> {
        let path = self.file_path(id);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(&path, err)),
            _ => Ok(()),
        }
    }

    pub(super) fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let _held = self.lock(id, false)?;
        self.read_file(id)
    }

    pub(super) fn replace(
        &self,
        id: &str,
        bytes: &[u8],
        retire: Option<&str>,
    ) -> Result<(), StoreError> {
        {
            let _held = self.lock(id, true)?;
            self.write_file(id, bytes)?;
        }
        if let Some(old) = retire {
            self.delete(old)?;
        }
        Ok(())
    }

    /// Under the exclusive lock: writes `bytes` if the file still holds `read`.
    pub(super) fn update(&self, id: &str, read: &[u8], bytes: &[u8]) -> Result<Cas, StoreError> {
        let _held = self.lock(id, true)?;
        match self.read_file(id)? {
            None => Ok(Cas::Gone),
            Some(current) if current != read => Ok(Cas::Changed),
            Some(_) => {
                self.write_file(id, bytes)?;
                Ok(Cas::Written)
            }
        }
    }

    pub(super) fn delete(&self, id: &str) -> Result<(), StoreError> {
        let _held = self.lock(id, true)?;
        self.remove_file(id)
    }
}

/// `root/<name[0]>/<name[:2]>/<name><extension>` (`encoded_path` with its default depth 3).
fn nested(root: &Path, name: &str, extension: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    path.push(&name[..1]);
    path.push(&name[..2]);
    path.push(format!("{name}{extension}"));
    path
}

/// Opens `path`, creating it and its directories (as Beaker's `verify_directory`).
fn open_creating(
    path: &Path,
    mode: impl Fn(&mut OpenOptions) -> &mut OpenOptions,
) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    mode(OpenOptions::new().create(true)).open(path)
}

fn io_error(path: &Path, err: io::Error) -> StoreError {
    StoreError::Backend {
        reason: format!("{}: {err}", path.display()),
        source: Some(Box::new(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference dump's paths: id `949dd6d0…`, whose SHA-1 is `2f4ad6dc…`.
    #[test]
    fn paths_are_beakers() {
        let backend = FileBackend::new(Path::new("/d"));
        let id = "949dd6d0e0304f6594a2a2f004cbffbf";
        assert_eq!(
            backend.file_path(id),
            Path::new("/d/container_file/9/94/949dd6d0e0304f6594a2a2f004cbffbf.cache")
        );
        assert_eq!(
            backend.lock_path(id),
            Path::new("/d/container_file_lock/2/2f/2f4ad6dce8b01213a0ac165caff5b14647a8b135.lock")
        );
    }

    #[test]
    fn a_held_lock_makes_a_writer_wait_then_give_up() {
        let dir = std::env::temp_dir().join(format!("beaker-lock-{}", std::process::id()));
        let mut backend = FileBackend::new(&dir);
        backend.lock_wait = Duration::from_millis(50);
        let id = "949dd6d0e0304f6594a2a2f004cbffbf";
        let shared = backend.lock(id, false).unwrap();
        // Readers share; a writer waits for them.
        let _second = backend.lock(id, false).unwrap();
        let started = Instant::now();
        let err = backend.replace(id, b"x", None).unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop((shared, _second));
        backend.replace(id, b"x", None).unwrap();
        assert_eq!(backend.read(id).unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(backend.update(id, b"y", b"z").unwrap(), Cas::Changed);
        assert_eq!(backend.update(id, b"x", b"z").unwrap(), Cas::Written);
        backend.delete(id).unwrap();
        assert_eq!(backend.update(id, b"z", b"w").unwrap(), Cas::Gone);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A session file past [`MAX_FILE`] is corrupt, read no further than one byte past it.
    #[test]
    fn an_oversized_file_is_corrupt() {
        let dir = std::env::temp_dir().join(format!("beaker-big-{}", std::process::id()));
        let backend = FileBackend::new(&dir);
        let id = "949dd6d0e0304f6594a2a2f004cbffbf";
        backend
            .replace(id, &vec![b'x'; MAX_FILE as usize + 1], None)
            .unwrap();
        let err = backend.read(id).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
