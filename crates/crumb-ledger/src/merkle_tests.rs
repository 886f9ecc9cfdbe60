use proptest::prelude::*;

use super::*;

fn h(s: &str) -> Hash {
    let v = hex::decode(s).expect("hex");
    v.try_into().expect("32 bytes")
}

// Test vectors of the RFC 6962 / RFC 9162 hasher and proofs, as published by the
// Certificate Transparency project (github.com/transparency-dev/merkle, files
// rfc6962/rfc6962_test.go and proof/verify_test.go; Apache-2.0). The hashes are theirs,
// copied here, not computed by this code.

/// `SHA-256("")`, `SHA-256(0x00)` and the leaf and node examples of rfc6962_test.go.
#[test]
fn hasher_vectors() {
    assert_eq!(empty_root(), h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_eq!(leaf_hash(b""), h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
    assert_eq!(leaf_hash(b"L123456"), h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"));
    // HashChildren takes the raw bytes "N123" and "N456" in that test, not 32-byte hashes.
    let mut node = Sha256::new();
    node.update([0x01]);
    node.update(b"N123");
    node.update(b"N456");
    let node: Hash = node.finalize().into();
    assert_eq!(node, h("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"));
    // node_hash is the same construction over 32-byte children.
    let (l, r) = (leaf_hash(b"Hello"), leaf_hash(b"World"));
    let mut expected = Sha256::new();
    expected.update([0x01]);
    expected.update(l);
    expected.update(r);
    assert_eq!(node_hash(&l, &r), <Hash>::from(expected.finalize()));
    assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    assert_ne!(node_hash(&l, &r), leaf_hash(&[l, r].concat()));
}

/// The eight leaves of verify_test.go.
fn vector_leaves() -> Vec<Hash> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|d| leaf_hash(&hex::decode(d).expect("hex")))
        .collect()
}

/// The roots of the trees over the first 1 to 8 leaves.
fn vector_roots() -> Vec<Hash> {
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    .iter()
    .map(|s| h(s))
    .collect()
}

/// `(leaf index from 1, tree size, proof)` of verify_test.go.
fn vector_inclusion() -> Vec<(usize, usize, Vec<Hash>)> {
    vec![
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (3, 3, vec![h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
        (
            2,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// `(old size, new size, proof)` of verify_test.go.
fn vector_consistency() -> Vec<(usize, usize, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

#[test]
fn roots_match_the_vectors() {
    let (leaves, roots) = (vector_leaves(), vector_roots());
    for n in 1..=8 {
        assert_eq!(root(&leaves[..n]), roots[n - 1], "root of {n} leaves");
    }
    assert_eq!(root(&[]), empty_root());
}

#[test]
fn inclusion_proofs_match_the_vectors_and_every_corruption_fails() {
    let (leaves, roots) = (vector_leaves(), vector_roots());
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (leaf, size, proof) in vector_inclusion() {
        let (i, n) = (leaf - 1, size as u64);
        assert_eq!(inclusion_proof(&leaves[..size], i).as_ref(), Some(&proof), "proof of {leaf} in {size}");
        let (root, lh) = (roots[size - 1], leaves[i]);
        assert_eq!(verify_inclusion(i as u64, n, &lh, &proof, &root), Ok(()));
        // The corruptions of verify_test.go's corruptInclusionProof.
        let mut probes: Vec<(u64, u64, Hash, Vec<Hash>, Hash)> = vec![
            ((i as u64).wrapping_sub(1), n, lh, proof.clone(), root),
            (i as u64 + 1, n, lh, proof.clone(), root),
            (i as u64 ^ 2, n, lh, proof.clone(), root),
            (i as u64, n * 2, lh, proof.clone(), root),
            (i as u64, n / 2, lh, proof.clone(), root),
            (i as u64, n, leaf_hash(b"WrongLeaf"), proof.clone(), root),
            (i as u64, n, lh, proof.clone(), empty_root()),
            (i as u64, n, lh, proof.clone(), some),
            (i as u64, n, lh, [proof.clone(), vec![root]].concat(), root),
            (i as u64, n, lh, [vec![root], proof.clone()].concat(), root),
            (i as u64, n, lh, [proof.clone(), vec![[0; 32]]].concat(), root),
            (i as u64, n, lh, [vec![[0; 32]], proof.clone()].concat(), root),
        ];
        for k in 0..proof.len() {
            let mut p = proof.clone();
            p[k][0] ^= 8;
            probes.push((i as u64, n, lh, p, root));
        }
        if !proof.is_empty() {
            probes.push((i as u64, n, lh, proof[..proof.len() - 1].to_vec(), root));
        }
        if proof.len() > 1 {
            probes.push((i as u64, n, lh, [vec![proof[0], some], proof[1..].to_vec()].concat(), root));
        }
        for (pi, pn, pl, pp, pr) in probes {
            assert!(
                verify_inclusion(pi, pn, &pl, &pp, &pr).is_err(),
                "({pi}, {pn}) for leaf {leaf} of {size} verified"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_the_vectors_and_every_corruption_fails() {
    let (leaves, roots) = (vector_leaves(), vector_roots());
    for (m, n, proof) in vector_consistency() {
        assert_eq!(consistency_proof(&leaves[..n], m).as_ref(), Some(&proof), "proof {m} -> {n}");
        let (r1, r2, m, n) = (roots[m - 1], roots[n - 1], m as u64, n as u64);
        assert_eq!(verify_consistency(m, n, &r1, &r2, &proof), Ok(()));
        if proof.is_empty() {
            continue;
        }
        // The corruptions of verify_test.go's corruptConsistencyProof.
        let wrong = leaf_hash(b"WrongRoot");
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (m - 1, n, r1, r2, proof.clone()),
            (m + 1, n, r1, r2, proof.clone()),
            (m ^ 2, n, r1, r2, proof.clone()),
            (m, n * 2, r1, r2, proof.clone()),
            (m, n / 2, r1, r2, proof.clone()),
            (m, n, wrong, r2, proof.clone()),
            (m, n, r1, wrong, proof.clone()),
            (m, n, r2, r1, proof.clone()),
            (m, n, r1, r2, vec![]),
            (m, n, r1, r2, [proof.clone(), vec![[0; 32]]].concat()),
            (m, n, r1, r2, [proof.clone(), vec![r1]].concat()),
            (m, n, r1, r2, [proof.clone(), vec![r2]].concat()),
            (m, n, r1, r2, [vec![[0; 32]], proof.clone()].concat()),
            (m, n, r1, r2, [vec![r1], proof.clone()].concat()),
            (m, n, r1, r2, [vec![r2], proof.clone()].concat()),
            (m, n, r1, r2, [vec![proof[0]], proof.clone()].concat()),
            (m, n, r1, r2, proof[..proof.len() - 1].to_vec()),
        ];
        for k in 0..proof.len() {
            let mut p = proof.clone();
            p[k][0] ^= 16;
            probes.push((m, n, r1, r2, p));
        }
        for (pm, pn, p1, p2, pp) in probes {
            assert!(verify_consistency(pm, pn, &p1, &p2, &pp).is_err(), "{pm} -> {pn} verified");
        }
    }
}

/// The edge cases of verify_test.go's TestVerifyConsistency.
#[test]
fn trivial_consistency_cases() {
    let (a, b, e) = (leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2"), empty_root());
    assert!(verify_consistency(0, 0, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 1, &a, &b, &[]).is_err());
    assert_eq!(verify_consistency(0, 0, &a, &a, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 1, &a, &b, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 1, &b, &b, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 0, &a, &b, &[]), Err(ProofError::SizeDecreased { old: 1, new: 0 }));
    assert!(verify_consistency(2, 1, &a, &b, &[]).is_err());
    assert_eq!(verify_consistency(1, 2, &a, &b, &[]), Err(ProofError::WrongLength));
    assert!(verify_consistency(0, 0, &e, &b, &[]).is_err());
    assert!(verify_consistency(1, 1, &e, &b, &[]).is_err());
    for (m, n) in [(0, 0), (0, 1), (1, 1)] {
        assert_eq!(verify_consistency(m, n, &e, &e, &[e]), Err(ProofError::WrongLength));
    }
}

/// verify_test.go's TestVerifyInclusion probes and single-entry tree.
#[test]
fn trivial_inclusion_cases() {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (i, n) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(i, n, &some, &[], &empty_root()).is_err(), "({i}, {n})");
    }
    let one = leaf_hash(b"data");
    assert_eq!(verify_inclusion(0, 1, &one, &[], &one), Ok(()));
    assert_eq!(verify_inclusion(0, 1, &one, &[], &some), Err(ProofError::RootMismatch));
    assert_eq!(inclusion_proof(&[one], 0), Some(vec![]));
    assert_eq!(inclusion_proof(&[one], 1), None);
    assert_eq!(consistency_proof(&[one], 2), None);
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

/// Every proof of every small tree verifies.
#[test]
fn every_proof_of_small_trees_verifies() {
    let all = leaves(20);
    for n in 1..=all.len() {
        let tree = &all[..n];
        let r = root(tree);
        for i in 0..n {
            let proof = inclusion_proof(tree, i).expect("proof");
            assert_eq!(verify_inclusion(i as u64, n as u64, &tree[i], &proof, &r), Ok(()), "{i} in {n}");
        }
        for m in 0..=n {
            let proof = consistency_proof(tree, m).expect("proof");
            let old = root(&tree[..m]);
            assert_eq!(verify_consistency(m as u64, n as u64, &old, &r, &proof), Ok(()), "{m} -> {n}");
        }
    }
}

/// A single change to a proof or to what it is checked against.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit of one proof hash.
    FlipProof(usize, usize),
    /// Remove one proof hash.
    Remove(usize),
    /// Insert a hash (one of the proof's, or another) at a position.
    Insert(usize, bool),
    /// Swap two proof hashes that differ.
    Swap(usize, usize),
    /// Flip one bit of the leaf hash (inclusion) or of the old root (consistency).
    FlipSubject(usize),
    /// Flip one bit of the (new) root.
    FlipRoot(usize),
    /// Claim another leaf index (inclusion) or another old size (consistency).
    OtherPosition(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..256).prop_map(|(i, b)| Mutation::FlipProof(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), any::<bool>()).prop_map(|(i, own)| Mutation::Insert(i, own)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (0usize..256).prop_map(Mutation::FlipSubject),
        (0usize..256).prop_map(Mutation::FlipRoot),
        any::<usize>().prop_map(Mutation::OtherPosition),
    ]
}

fn flip(h: &mut Hash, bit: usize) {
    h[bit / 8] ^= 1 << (bit % 8);
}

/// Apply `m` to `proof` (and the subject, root or position); `false` when `m` changes
/// nothing for this proof (a swap of equal hashes, a remove from an empty proof).
fn apply(
    m: &Mutation,
    proof: &mut Vec<Hash>,
    subject: &mut Hash,
    root: &mut Hash,
    pos: &mut u64,
    positions: u64,
) -> bool {
    match *m {
        Mutation::FlipProof(i, b) if !proof.is_empty() => {
            let k = i % proof.len();
            flip(&mut proof[k], b);
        }
        Mutation::Remove(i) if !proof.is_empty() => {
            proof.remove(i % proof.len());
        }
        Mutation::Insert(i, own) => {
            let extra = if own && !proof.is_empty() { proof[i % proof.len()] } else { leaf_hash(b"extra") };
            proof.insert(i % (proof.len() + 1), extra);
        }
        Mutation::Swap(a, b) if proof.len() > 1 => {
            let (a, b) = (a % proof.len(), b % proof.len());
            if proof[a] == proof[b] {
                return false;
            }
            proof.swap(a, b);
        }
        Mutation::FlipSubject(b) => flip(subject, b),
        Mutation::FlipRoot(b) => flip(root, b),
        Mutation::OtherPosition(p) if positions > 1 => {
            let other = p as u64 % (positions - 1);
            *pos = if other >= *pos { other + 1 } else { other };
        }
        _ => return false,
    }
    true
}

proptest! {
    /// In a tree of up to 300 leaves, any leaf's inclusion proof verifies, and any single
    /// mutation of it, of the leaf, of the root or of the claimed index fails.
    #[test]
    fn inclusion_proofs_verify_and_every_mutation_fails(
        n in 1usize..300, i in any::<usize>(), m in mutation()
    ) {
        let tree = leaves(n);
        let i = i % n;
        let mut proof = inclusion_proof(&tree, i).expect("proof");
        let (mut leaf, mut r, mut index) = (tree[i], root(&tree), i as u64);
        prop_assert_eq!(verify_inclusion(index, n as u64, &leaf, &proof, &r), Ok(()));
        if apply(&m, &mut proof, &mut leaf, &mut r, &mut index, n as u64) {
            prop_assert!(verify_inclusion(index, n as u64, &leaf, &proof, &r).is_err(), "{:?} verified", m);
        }
    }

    /// Between any two sizes of a tree of up to 300 leaves, the consistency proof verifies,
    /// and any single mutation of it, of either root or of the older size fails.
    #[test]
    fn consistency_proofs_verify_and_every_mutation_fails(
        n in 1usize..300, old in any::<usize>(), m in mutation()
    ) {
        let tree = leaves(n);
        let old = old % (n + 1);
        let mut proof = consistency_proof(&tree, old).expect("proof");
        let (mut r1, mut r2, mut size1) = (root(&tree[..old]), root(&tree), old as u64);
        prop_assert_eq!(verify_consistency(size1, n as u64, &r1, &r2, &proof), Ok(()));
        // A trivial proof (from the empty tree, or to the same size) has no hashes to
        // mutate and an old root nothing depends on (size 0): only mutations that change
        // the claim are meaningful there.
        let trivial = old == 0;
        let root_only = matches!(m, Mutation::FlipSubject(_));
        if apply(&m, &mut proof, &mut r1, &mut r2, &mut size1, n as u64 + 1) && !(trivial && root_only) {
            let claim_still_true = size1 == 0 && proof.is_empty();
            prop_assume!(!claim_still_true);
            prop_assert!(verify_consistency(size1, n as u64, &r1, &r2, &proof).is_err(), "{:?} verified", m);
        }
    }
}
