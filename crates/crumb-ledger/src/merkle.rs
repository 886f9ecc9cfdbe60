//! Merkle tree hashing, inclusion proofs and consistency proofs as RFC 9162 (Certificate
//! Transparency 2.0, section 2.1) defines them, with SHA-256.
//!
//! - A leaf hashes as `SHA-256(0x00 || data)`, an interior node as
//!   `SHA-256(0x01 || left || right)`, the empty tree as `SHA-256("")`.
//! - The tree over `n` leaves splits at `k`, the largest power of two below `n`: the left
//!   subtree holds leaves `0..k`, the right one `k..n` ([`root`]).
//! - An inclusion proof ([`inclusion_proof`], checked by [`verify_inclusion`]) shows that a
//!   leaf is at an index of a tree with a given root; a consistency proof
//!   ([`consistency_proof`], checked by [`verify_consistency`]) shows that a tree is an
//!   extension of an older one: the first `m` leaves are unchanged.
//!
//! Functions take leaf hashes (already computed with [`leaf_hash`]), indexes from 0.
//! The verification algorithms are those of RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a proof does not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not within the tree.
    #[error("leaf index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The claimed index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The newer tree is smaller than the older one.
    #[error("tree size {new} is smaller than {old}")]
    SizeDecreased {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has more or fewer hashes than the sizes call for.
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    /// The proof does not lead to the given root (or, for consistency, to both roots).
    #[error("the proof does not lead to the given root")]
    RootMismatch,
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n` at least 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle tree hash (MTH) of the leaves with these hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path, RFC 9162 `PATH`) of leaf `index` in the tree over
/// `leaves`; `None` when `index` is not a leaf of it.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

/// `PATH(m, D[n])`, the hashes from the bottom up.
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof (RFC 9162 `PROOF`) that the tree over `leaves` extends the tree
/// over its first `old_size` leaves; `None` when `old_size` exceeds the leaves. Empty when
/// `old_size` is 0 or the whole tree (both are consistent without proof).
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    if old_size > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    if old_size > 0 {
        subproof(old_size, leaves, true, &mut proof);
    }
    Some(proof)
}

/// `SUBPROOF(m, D[n], b)`, the hashes from the bottom up.
fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Check that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves whose root
/// is `root`, by the algorithm of RFC 9162 section 2.1.3.2.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Check that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root`, by the algorithm of RFC 9162 section 2.1.4.2.
/// An empty older tree is extended by every tree (with an empty proof); a tree of the same
/// size must have the same root (and an empty proof).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeDecreased { old: old_size, new: new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // 0 < old_size < new_size from here on.
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength);
    };
    // An older tree whose size is a power of two is a subtree of the newer one: the proof
    // leaves out its root, which the verifier has.
    let (start, path) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in path {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
