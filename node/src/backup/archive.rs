//! The backup file: two lines of text, then the sealed payload, then its MAC.
//!
//! ```text
//! TRACENODE-BACKUP/1\n
//! {"suite":"sm4-ctr-hmac-sm3","kdf":{…salt, costs…},"iv":"…","created_at":"…","node":{…}}\n
//! <ciphertext of the entries>
//! <MAC: 32 bytes over both lines and the ciphertext>
//! ```
//!
//! The key comes from the operator's passphrase (Argon2id, parameters in the header), never
//! from the node: a backup must open on a new machine after the old one is gone. Encryption
//! is encrypt-then-MAC — SM4-CTR with HMAC-SM3 (GB/T 32907, GB/T 32905) or AES-256-CTR with
//! HMAC-SHA256, as the node's `security.secret_cipher` chooses — so the whole file is checked
//! before a byte of it is used: a changed, cut or foreign file is refused whole.
//!
//! The plaintext is a sequence of entries, each `u16` name length, name (UTF-8), `u64` size
//! and the bytes (big-endian lengths), ended by a zero name length. Names are relative paths
//! with `/`; a name that could climb out of its folder is refused when read.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::symm::{Cipher, Crypter, Mode};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::keys::SecretCipher;

/// The first line of every backup.
pub const MAGIC: &[u8] = b"TRACENODE-BACKUP/1\n";
/// Length of the MAC at the end.
const MAC_LEN: usize = 32;
/// Longest header line read back.
const MAX_HEADER: usize = 64 * 1024;
/// Longest entry name.
const MAX_NAME: usize = 1024;
/// Bytes copied at a time.
const CHUNK: usize = 64 * 1024;

/// The encryption of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Suite {
    /// SM4 in CTR mode with HMAC-SM3.
    #[serde(rename = "sm4-ctr-hmac-sm3")]
    Sm4,
    /// AES-256 in CTR mode with HMAC-SHA256.
    #[serde(rename = "aes-256-ctr-hmac-sha256")]
    Aes256,
}

impl Suite {
    /// The suite matching the node's choice for secrets at rest.
    pub fn of(cipher: SecretCipher) -> Suite {
        match cipher {
            SecretCipher::Sm4 => Suite::Sm4,
            SecretCipher::Aes256Gcm => Suite::Aes256,
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            Suite::Sm4 => Cipher::sm4_ctr(),
            Suite::Aes256 => Cipher::aes_256_ctr(),
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Suite::Sm4 => MessageDigest::sm3(),
            Suite::Aes256 => MessageDigest::sha256(),
        }
    }

    /// The name written in the header and shown to operators.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Sm4 => "sm4-ctr-hmac-sm3",
            Suite::Aes256 => "aes-256-ctr-hmac-sha256",
        }
    }
}

/// How the key was derived from the passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Salt, hex.
    pub salt: String,
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The second line: what the file is, in the clear (covered by the MAC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Encryption.
    pub suite: Suite,
    /// Key derivation.
    pub kdf: Kdf,
    /// The CTR initial counter block, hex.
    pub iv: String,
    /// When the backup was made (UTC, RFC 3339).
    pub created_at: String,
    /// The node it is of: tier, region and name.
    pub node: NodeLabel,
    /// `sqlite` or `postgres`: where the database must be restored.
    pub backend: String,
}

/// Which node a backup is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLabel {
    /// Tier.
    pub tier: String,
    /// Region code.
    pub region: String,
    /// Name.
    pub name: String,
}

/// The shortest passphrase taken.
pub const MIN_PASSPHRASE: usize = 12;

/// 64 bytes of key from `passphrase`: the cipher key first, the MAC key last.
fn derive(passphrase: &str, kdf: &Kdf) -> AppResult<[u8; 64]> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(AppError::invalid(
            "passphrase",
            format!("备份口令至少{MIN_PASSPHRASE}个字符"),
            format!("the backup passphrase must be at least {MIN_PASSPHRASE} characters"),
        ));
    }
    // Bounds on what a header may ask for before its MAC is checked: no file makes the
    // restore spend more than 256 MiB and 16 passes deriving a key.
    if kdf.algorithm != "argon2id" || kdf.memory_kib > 1 << 18 || kdf.iterations > 16 || kdf.parallelism > 8 {
        return Err(not_a_backup("unsupported key derivation"));
    }
    let salt = hex::decode(&kdf.salt).map_err(|_| not_a_backup("salt"))?;
    if !(8..=64).contains(&salt.len()) {
        return Err(not_a_backup("salt"));
    }
    let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(64))
        .map_err(|_| not_a_backup("key derivation parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 64];
    argon.hash_password_into(passphrase.as_bytes(), &salt, &mut key).map_err(AppError::internal)?;
    Ok(key)
}

fn not_a_backup(what: &str) -> AppError {
    AppError::invalid(
        "from",
        format!("不是本节点软件生成的备份文件，或文件已损坏（{what}）"),
        format!("not a tracenode backup, or the file is damaged ({what})"),
    )
}

fn refused_mac() -> AppError {
    AppError::invalid(
        "passphrase",
        "备份文件校验失败：口令不对，或文件被改动、截断；未恢复任何内容",
        "the backup does not verify: a wrong passphrase, or the file was altered or cut; nothing was restored",
    )
}

fn io(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("{}: {e}", path.display()))
}

/// The keys and fresh salt and IV of one backup being written; [`Sealing::writer`] starts
/// the file.
pub struct Sealing {
    suite: Suite,
    kdf: Kdf,
    iv: [u8; 16],
    key: [u8; 64],
    mac_key: PKey<Private>,
}

impl Sealing {
    /// Derives the keys of a new backup from `passphrase` (a fresh salt and IV).
    pub fn new(passphrase: &str, suite: Suite) -> AppResult<Sealing> {
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let kdf = Kdf {
            algorithm: "argon2id".into(),
            salt: hex::encode(salt),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        };
        let key = derive(passphrase, &kdf)?;
        let mac_key = mac_key(&key)?;
        Ok(Sealing { suite, kdf, iv, key, mac_key })
    }

    /// Starts the file at `path` (created 0600, never over an existing one) with `header`,
    /// whose suite, key derivation and IV are filled in here.
    pub fn writer(&self, path: &Path, mut header: Header) -> AppResult<Writer<'_>> {
        header.suite = self.suite;
        header.iv = hex::encode(self.iv);
        header.kdf = self.kdf.clone();
        let cipher_key = &self.key[..self.suite.cipher().key_len()];
        let crypter =
            Crypter::new(self.suite.cipher(), Mode::Encrypt, cipher_key, Some(&self.iv)).map_err(AppError::internal)?;
        let mut signer = Signer::new(self.suite.digest(), &self.mac_key).map_err(AppError::internal)?;
        let file = crate::files::private_new_file(path).map_err(|e| io(path, e))?;
        let mut out = BufWriter::new(file);
        let mut line = serde_json::to_vec(&header).map_err(AppError::internal)?;
        line.push(b'\n');
        for part in [MAGIC, &line] {
            out.write_all(part).map_err(|e| io(path, e))?;
            signer.update(part).map_err(AppError::internal)?;
        }
        Ok(Writer { out, crypter, signer, buf: vec![0u8; CHUNK + 32] })
    }
}

/// The MAC key: the last 32 bytes of the derived key, never the cipher's.
fn mac_key(key: &[u8; 64]) -> AppResult<PKey<Private>> {
    PKey::hmac(&key[32..]).map_err(AppError::internal)
}

/// Writes a backup file entry by entry.
pub struct Writer<'k> {
    out: BufWriter<File>,
    crypter: Crypter,
    signer: Signer<'k>,
    buf: Vec<u8>,
}

impl Writer<'_> {
    fn seal(&mut self, plain: &[u8]) -> io::Result<()> {
        for piece in plain.chunks(CHUNK) {
            let n = self.crypter.update(piece, &mut self.buf).map_err(io::Error::other)?;
            self.signer.update(&self.buf[..n]).map_err(io::Error::other)?;
            self.out.write_all(&self.buf[..n])?;
        }
        Ok(())
    }

    /// Adds an entry named `name` with the bytes `source` yields (`size` of them).
    pub fn entry(&mut self, name: &str, size: u64, source: &mut dyn Read) -> AppResult<()> {
        check_name(name)?;
        let mut head = Vec::with_capacity(name.len() + 10);
        head.extend((name.len() as u16).to_be_bytes());
        head.extend(name.as_bytes());
        head.extend(size.to_be_bytes());
        self.seal(&head).map_err(AppError::internal)?;
        let mut left = size;
        let mut chunk = vec![0u8; CHUNK];
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            source.read_exact(&mut chunk[..want]).map_err(AppError::internal)?;
            self.seal(&chunk[..want]).map_err(AppError::internal)?;
            left -= want as u64;
        }
        Ok(())
    }

    /// Adds the file at `path` as `name`.
    pub fn file(&mut self, name: &str, path: &Path) -> AppResult<()> {
        let mut f = File::open(path).map_err(|e| io(path, e))?;
        let size = f.metadata().map_err(|e| io(path, e))?.len();
        self.entry(name, size, &mut f)
    }

    /// Ends the entries, writes the MAC and flushes the file to disk.
    pub fn finish(mut self) -> AppResult<()> {
        self.seal(&0u16.to_be_bytes()).map_err(AppError::internal)?;
        let n = self.crypter.finalize(&mut self.buf).map_err(AppError::internal)?;
        let tail = self.buf[..n].to_vec();
        self.signer.update(&tail).map_err(AppError::internal)?;
        self.out.write_all(&tail).map_err(AppError::internal)?;
        let mac = self.signer.sign_to_vec().map_err(AppError::internal)?;
        self.out.write_all(&mac).map_err(AppError::internal)?;
        let file = self.out.into_inner().map_err(|e| AppError::internal(e.to_string()))?;
        file.sync_all().map_err(AppError::internal)
    }
}

fn check_name(name: &str) -> AppResult<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(not_a_backup("entry name"));
    }
    Ok(())
}

/// Reads a backup's header without the passphrase (to show what a file is).
pub fn header(path: &Path) -> AppResult<Header> {
    let mut f = BufReader::new(File::open(path).map_err(|e| io(path, e))?);
    read_header(&mut f).map(|(h, _)| h)
}

fn read_header(f: &mut impl Read) -> AppResult<(Header, Vec<u8>)> {
    let mut magic = [0u8; MAGIC.len()];
    f.read_exact(&mut magic).map_err(|_| not_a_backup("too short"))?;
    if magic != MAGIC {
        return Err(not_a_backup("first line"));
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        f.read_exact(&mut byte).map_err(|_| not_a_backup("header"))?;
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
        if line.len() > MAX_HEADER {
            return Err(not_a_backup("header"));
        }
    }
    let header: Header = serde_json::from_slice(&line).map_err(|_| not_a_backup("header"))?;
    Ok((header, line))
}

/// Reads a backup after checking it whole: [`Reader::open`] verifies the MAC over the entire
/// file before any entry is handed out.
pub struct Reader {
    file: BufReader<std::io::Take<File>>,
    crypter: Crypter,
    buf: Vec<u8>,
    plain: Vec<u8>,
    at: usize,
    /// The file's header.
    pub header: Header,
}

impl Reader {
    /// Opens and verifies the backup at `path` with `passphrase`.
    pub fn open(path: &Path, passphrase: &str) -> AppResult<Reader> {
        let mut f = File::open(path).map_err(|e| io(path, e))?;
        let len = f.metadata().map_err(|e| io(path, e))?.len();
        let (header, line) = read_header(&mut BufReader::new(&mut f))?;
        let body_start = (MAGIC.len() + line.len()) as u64;
        if len < body_start + MAC_LEN as u64 {
            return Err(not_a_backup("too short"));
        }
        let key = derive(passphrase, &header.kdf)?;
        let cipher_key = &key[..header.suite.cipher().key_len()];
        let mac_key = mac_key(&key)?;
        let mut signer = Signer::new(header.suite.digest(), &mac_key).map_err(AppError::internal)?;
        f.seek(SeekFrom::Start(0)).map_err(|e| io(path, e))?;
        let mut all = BufReader::new((&mut f).take(len - MAC_LEN as u64));
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = all.read(&mut chunk).map_err(|e| io(path, e))?;
            if n == 0 {
                break;
            }
            signer.update(&chunk[..n]).map_err(AppError::internal)?;
        }
        let mut presented = [0u8; MAC_LEN];
        f.read_exact(&mut presented).map_err(|e| io(path, e))?;
        let expected = signer.sign_to_vec().map_err(AppError::internal)?;
        if expected.len() != MAC_LEN || !openssl::memcmp::eq(&expected, &presented) {
            return Err(refused_mac());
        }
        let iv = hex::decode(&header.iv).map_err(|_| not_a_backup("iv"))?;
        let crypter = Crypter::new(header.suite.cipher(), Mode::Decrypt, cipher_key, Some(&iv))
            .map_err(|_| not_a_backup("iv"))?;
        f.seek(SeekFrom::Start(body_start)).map_err(|e| io(path, e))?;
        let body = f.take(len - body_start - MAC_LEN as u64);
        Ok(Reader { file: BufReader::new(body), crypter, buf: vec![0u8; CHUNK + 32], plain: Vec::new(), at: 0, header })
    }

    /// The next entry's name and size, or `None` at the end.
    pub fn next_entry(&mut self) -> AppResult<Option<(String, u64)>> {
        let mut len = [0u8; 2];
        self.read_exact(&mut len).map_err(|_| not_a_backup("entry"))?;
        let len = u16::from_be_bytes(len) as usize;
        if len == 0 {
            return Ok(None);
        }
        if len > MAX_NAME {
            return Err(not_a_backup("entry name"));
        }
        let mut name = vec![0u8; len];
        self.read_exact(&mut name).map_err(|_| not_a_backup("entry"))?;
        let name = String::from_utf8(name).map_err(|_| not_a_backup("entry name"))?;
        check_name(&name)?;
        let mut size = [0u8; 8];
        self.read_exact(&mut size).map_err(|_| not_a_backup("entry"))?;
        Ok(Some((name, u64::from_be_bytes(size))))
    }

    /// Copies the current entry's `size` bytes to `out`.
    pub fn copy_to(&mut self, size: u64, out: &mut dyn Write) -> AppResult<()> {
        let mut left = size;
        let mut chunk = vec![0u8; CHUNK];
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            self.read_exact(&mut chunk[..want]).map_err(|_| not_a_backup("entry"))?;
            out.write_all(&chunk[..want]).map_err(AppError::internal)?;
            left -= want as u64;
        }
        Ok(())
    }
}

impl Read for Reader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.plain.len() {
            let mut chunk = vec![0u8; CHUNK];
            let n = self.file.read(&mut chunk)?;
            if n == 0 {
                return Ok(0);
            }
            let m = self.crypter.update(&chunk[..n], &mut self.buf).map_err(io::Error::other)?;
            self.plain = self.buf[..m].to_vec();
            self.at = 0;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> Header {
        Header {
            suite: Suite::Sm4,
            kdf: Kdf { algorithm: String::new(), salt: String::new(), memory_kib: 0, iterations: 0, parallelism: 0 },
            iv: String::new(),
            created_at: "2026-12-02T00:00:00Z".into(),
            node: NodeLabel { tier: "county".into(), region: "330106".into(), name: "西湖区".into() },
            backend: "sqlite".into(),
        }
    }

    fn write(path: &Path, suite: Suite, entries: &[(&str, Vec<u8>)]) {
        let sealing = Sealing::new("correct horse battery", suite).expect("keys");
        let mut w = sealing.writer(path, label()).expect("create");
        for (name, bytes) in entries {
            w.entry(name, bytes.len() as u64, &mut bytes.as_slice()).expect("entry");
        }
        w.finish().expect("finish");
    }

    fn read_all(path: &Path, passphrase: &str) -> AppResult<Vec<(String, Vec<u8>)>> {
        let mut r = Reader::open(path, passphrase)?;
        let mut out = Vec::new();
        while let Some((name, size)) = r.next_entry()? {
            let mut bytes = Vec::new();
            r.copy_to(size, &mut bytes)?;
            out.push((name, bytes));
        }
        Ok(out)
    }

    #[test]
    fn entries_come_back_as_written_under_either_suite() {
        let dir = tempfile::tempdir().expect("dir");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for suite in [Suite::Sm4, Suite::Aes256] {
            let path = dir.path().join(suite.name());
            let entries =
                vec![("tracenode.toml", b"[node]\n".to_vec()), ("pki/ca.pem", big.clone()), ("empty", vec![])];
            write(&path, suite, &entries);
            let back = read_all(&path, "correct horse battery").expect("read");
            assert_eq!(back, entries.iter().map(|(n, b)| (n.to_string(), b.clone())).collect::<Vec<_>>());
            assert_eq!(header(&path).expect("header").suite, suite);
            let text = std::fs::read(&path).expect("file");
            assert!(!text.windows(7).any(|w| w == b"[node]\n"), "the content is encrypted");
        }
    }

    #[test]
    fn a_wrong_passphrase_a_changed_byte_or_a_cut_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("b");
        write(&path, Suite::Sm4, &[("node.key", vec![7u8; 32])]);
        assert_eq!(read_all(&path, "wrong horse battery").expect_err("wrong").field.as_deref(), Some("passphrase"));
        let good = std::fs::read(&path).expect("file");
        for at in [MAGIC.len() + 5, good.len() - 40, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).expect("write");
            assert!(read_all(&path, "correct horse battery").is_err(), "byte {at}");
        }
        std::fs::write(&path, &good[..good.len() - 10]).expect("write");
        assert!(read_all(&path, "correct horse battery").is_err(), "cut");
        assert!(Sealing::new("short", Suite::Sm4).is_err(), "short passphrase");
    }

    #[test]
    fn names_that_climb_out_are_refused() {
        for name in ["../etc/passwd", "/abs", "a//b", "a/./b", "", "a\\b"] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("pki/crls/330000.pem").is_ok());
    }
}
