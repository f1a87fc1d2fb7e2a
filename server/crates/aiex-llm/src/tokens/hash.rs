//! The hash of the vocabulary table, shared by the build script that lays the table out and the
//! counter that probes it: the two must agree bit for bit.

/// Slots in the table: a power of two above the 100,256 tokens (load about 0.77; every slot
/// carries a tag of its token's hash, so a probe rarely reads a token's bytes to reject it).
pub const SLOTS: usize = 1 << 17;

/// Bits of a slot holding the token's index + 1 (0 marks an empty slot); the rest is the tag.
pub const INDEX_BITS: u32 = 17;

/// FNV-1a: tokens are short, so a simple byte hash is as fast as any.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^ (hash >> 32)
}

/// Where probing for `hash` starts.
pub fn first_slot(hash: u64) -> usize {
    hash as usize & (SLOTS - 1)
}

/// The tag stored beside a token's index: hash bits the slot position does not use.
pub fn tag(hash: u64) -> u32 {
    ((hash >> 40) as u32) & (u32::MAX >> INDEX_BITS)
}
