//! Release archives: a `.tar.gz` whose entries are sorted and stamped with one time (the same
//! inputs give the same bytes), and its SHA-256.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// A file to put in an archive: where it is, its name inside, and whether it is executable.
#[derive(Debug, Clone)]
pub struct Entry {
    pub source: PathBuf,
    pub name: String,
    pub executable: bool,
}

/// Writes `entries` under the directory `top` inside a gzip'd tar at `archive`, every entry
/// with the modification time `mtime` (seconds since the epoch).
pub fn write_tar_gz(
    archive: &Path,
    top: &str,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<()> {
    let file =
        File::create(archive).with_context(|| format!("cannot create {}", archive.display()))?;
    let gzip = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::best());
    let mut tar = tar::Builder::new(gzip);
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in &sorted {
        let mut bytes = Vec::new();
        File::open(&entry.source)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", entry.source.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if entry.executable { 0o755 } else { 0o644 });
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("{top}/{}", entry.name),
            bytes.as_slice(),
        )
        .with_context(|| format!("cannot add {} to {}", entry.name, archive.display()))?;
    }
    let gzip = tar.into_inner().context("cannot finish the tar stream")?;
    gzip.finish()
        .and_then(|mut writer| writer.flush())
        .with_context(|| format!("cannot finish {}", archive.display()))?;
    Ok(())
}

/// The SHA-256 of a file, in lowercase hex.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// The line `sha256sum` prints and `sha256sum -c` reads: hash, two spaces, file name.
pub fn checksum_line(hash: &str, file_name: &str) -> String {
    format!("{hash}  {file_name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_give_the_same_archive_and_it_unpacks_to_them() {
        let dir = std::env::temp_dir().join(format!("xtask-archive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("aiex");
        std::fs::write(&binary, b"\x7fELF pretend").unwrap();
        let readme = dir.join("README.md");
        std::fs::write(&readme, "# Aiex\n").unwrap();
        let entries = [
            Entry {
                source: readme,
                name: "README.md".into(),
                executable: false,
            },
            Entry {
                source: binary,
                name: "aiex".into(),
                executable: true,
            },
        ];
        let (first, second) = (dir.join("a.tar.gz"), dir.join("b.tar.gz"));
        write_tar_gz(&first, "aiex-0.1.0-x", &entries, 1_700_000_000).unwrap();
        write_tar_gz(&second, "aiex-0.1.0-x", &entries, 1_700_000_000).unwrap();
        assert_eq!(sha256_file(&first).unwrap(), sha256_file(&second).unwrap());

        let mut archive =
            tar::Archive::new(flate2::read::GzDecoder::new(File::open(&first).unwrap()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            seen.push((
                entry.path().unwrap().display().to_string(),
                entry.header().mode().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("aiex-0.1.0-x/README.md".to_owned(), 0o644),
                ("aiex-0.1.0-x/aiex".to_owned(), 0o755)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checksums_read_as_sha256sum_writes_them() {
        let dir = std::env::temp_dir().join(format!("xtask-sum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abc");
        std::fs::write(&file, "abc").unwrap();
        let hash = sha256_file(&file).unwrap();
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(checksum_line(&hash, "abc"), format!("{hash}  abc\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
