//! `audit-checkpoints`: the signed head of the node's audit chain. Each checkpoint also
//! re-states the hash the chain holds today at the previous checkpoint's row, so a parent
//! that kept that checkpoint tells a rewritten history from the true one: the hashes differ.
//!
//! A checkpoint carries the client certificate it was signed with. A node renews that
//! certificate while checkpoints may wait for a parent that cannot be reached; the parent
//! then takes a signer certificate that names the same node and was issued by the same CA
//! as the certificate the batch arrived with.

use diesel::prelude::*;
use openssl::hash::MessageDigest;
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use tracenode_federation::tiers::{self, Identity};
use tracenode_federation::wire::payload::{ChainPoint as Point, Checkpoint};
use tracenode_federation::wire::{Payload, Refusal};

use super::{Child, Collected, Collector, Settle};
use crate::db::schema::{audit_checkpoints as ac, audit_log};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

fn point_at(conn: &mut DbConnection, seq: i64) -> AppResult<Option<Point>> {
    Ok(audit_log::table
        .find(seq)
        .select(audit_log::hash)
        .first::<String>(conn)
        .optional()?
        .map(|hash| Point { seq, hash }))
}

fn openssl_failed(e: openssl::error::ErrorStack) -> AppError {
    AppError::internal(e)
}

/// A checkpoint of the chain's head, when it moved past `from`.
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let last: Option<i64> = audit_log::table.select(diesel::dsl::max(audit_log::seq)).first(conn)?;
    let Some(seq) = last.filter(|s| *s > from) else { return Ok(None) };
    let head = point_at(conn, seq)?.ok_or_else(|| AppError::internal("audit head vanished"))?;
    let previous = if from > 0 { point_at(conn, from)? } else { None };
    let signed_at = chrono::Utc::now().to_rfc3339();
    let mut signer = Signer::new(MessageDigest::sha256(), &by.signer.key).map_err(openssl_failed)?;
    signer.update(Checkpoint::message(by.region, &head, &previous, &signed_at).as_bytes()).map_err(openssl_failed)?;
    let signature = hex::encode(signer.sign_to_vec().map_err(openssl_failed)?);
    let certificate = by.signer.chain.first().ok_or_else(|| AppError::internal("no client certificate"))?;
    let pem = String::from_utf8(certificate.to_pem().map_err(openssl_failed)?).map_err(AppError::internal)?;
    let payload =
        Payload::AuditCheckpoints(vec![Checkpoint { head, previous, signed_at, signature, signer: Some(pem) }]);
    Ok(Some(Collected {
        payload,
        seqs: Some((seq, seq)),
        collected_through: seq,
        more: false,
        settle: Settle::Nothing,
    }))
}

/// Keeps each checkpoint whose signature verifies and whose history agrees with those kept.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, checkpoints: Vec<Checkpoint>) -> AppResult<i64> {
    let mut stored = 0;
    for c in checkpoints {
        if let Some(cert) = signing_certificate(child, &c)? {
            verify(child.region, &c, &cert)?;
        }
        for point in std::iter::once(&c.head).chain(c.previous.iter()) {
            let kept: Option<String> =
                ac::table.find((child.region, point.seq)).select(ac::hash).first(conn).optional()?;
            if kept.as_ref().is_some_and(|h| h != &point.hash) {
                return Err(rewritten(child.region, point.seq));
            }
        }
        let kept = ac::table.find((child.region, c.head.seq)).count().get_result::<i64>(conn)? > 0;
        if !kept {
            diesel::insert_into(ac::table)
                .values((
                    ac::child_region.eq(child.region),
                    ac::seq.eq(c.head.seq),
                    ac::hash.eq(&c.head.hash),
                    ac::signed_at.eq(&c.signed_at),
                    ac::signature.eq(&c.signature),
                    ac::received_at.eq(db::now()),
                ))
                .execute(conn)?;
            stored += 1;
        }
    }
    Ok(stored)
}

fn rewritten(region: &str, seq: i64) -> AppError {
    Refusal::HistoryRewritten { child: region.to_owned(), seq }.into()
}

fn bad_signature(region: &str) -> AppError {
    Refusal::BadCheckpointSignature { child: region.to_owned() }.into()
}

/// The certificate whose key must verify `c`: the one it carries when that names the child
/// and was issued by the CA that issued the certificate the batch came with (the child's
/// CA, found on the verified path), else the latter. Nothing when the sender's certificate
/// is not known.
fn signing_certificate(child: &Child<'_>, c: &Checkpoint) -> AppResult<Option<X509>> {
    let Some(presented) = child.certificate else { return Ok(None) };
    let Some(pem) = &c.signer else { return Ok(Some(presented.clone())) };
    let carried = X509::from_pem(pem.as_bytes()).map_err(|_| bad_signature(child.region))?;
    let names_the_child =
        tiers::identity_of(&carried).is_ok_and(|i| i == Identity::Node { region: child.region.to_owned() });
    let same_issuer =
        child.authority.is_some_and(|ca| ca.public_key().and_then(|key| carried.verify(&key)).unwrap_or(false));
    if names_the_child && same_issuer {
        Ok(Some(carried))
    } else {
        Err(bad_signature(child.region))
    }
}

fn verify(region: &str, c: &Checkpoint, cert: &X509) -> AppResult<()> {
    let bad = || bad_signature(region);
    let signature = hex::decode(&c.signature).map_err(|_| bad())?;
    let key = cert.public_key().map_err(openssl_failed)?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), &key).map_err(openssl_failed)?;
    verifier
        .update(Checkpoint::message(region, &c.head, &c.previous, &c.signed_at).as_bytes())
        .map_err(openssl_failed)?;
    if verifier.verify(&signature).unwrap_or(false) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The checkpoints kept for a child, newest first.
pub fn kept(conn: &mut DbConnection, child_region: &str) -> AppResult<Vec<(i64, String, String)>> {
    Ok(ac::table
        .filter(ac::child_region.eq(child_region))
        .order(ac::seq.desc())
        .limit(50)
        .select((ac::seq, ac::hash, ac::signed_at))
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use openssl::pkey::{PKey, Private};
    use tracenode_federation::tiers::{Authority, Leaf, Request};

    use super::*;

    fn child_of(parent: &Authority, region: &str) -> Authority {
        let (request, key) = Request::new(region).expect("request");
        let cert = parent.sign_child(&request).expect("signed");
        Authority::from_pem(&cert.to_pem().expect("pem"), &key.private_key_to_pem_pkcs8().expect("key")).expect("ca")
    }

    fn signed_by(key: &PKey<Private>, carried: Option<&X509>) -> Checkpoint {
        let head = Point { seq: 7, hash: "ab".repeat(32) };
        let signed_at = "2026-11-26T08:00:00+00:00".to_owned();
        let mut signer = Signer::new(MessageDigest::sha256(), key).expect("signer");
        signer.update(Checkpoint::message("330100", &head, &None, &signed_at).as_bytes()).expect("update");
        Checkpoint {
            head,
            previous: None,
            signed_at,
            signature: hex::encode(signer.sign_to_vec().expect("sign")),
            signer: carried.map(|c| String::from_utf8(c.to_pem().expect("pem")).expect("utf-8")),
        }
    }

    fn accepted(child: &Child<'_>, c: &Checkpoint) -> Result<(), String> {
        let cert = signing_certificate(child, c).map_err(|e| e.message())?.expect("a certificate to verify with");
        verify(child.region, c, &cert).map_err(|e| e.message())
    }

    #[test]
    fn a_checkpoint_signed_before_a_renewal_verifies_and_a_forged_signer_does_not() {
        let root = Authority::root().expect("root");
        let city = child_of(&child_of(&root, "330000"), "330100");
        let (now, _) = city.issue_with_key(&Leaf::NodeClient).expect("current");
        let (before, old_key) = city.issue_with_key(&Leaf::NodeClient).expect("renewed away");
        let child = Child {
            region: "330100",
            certificate: Some(&now),
            authority: Some(city.certificate()),
            receiver: "330000",
        };

        // Signed with the certificate the node held before it renewed: taken.
        assert_eq!(accepted(&child, &signed_by(&old_key, Some(&before))), Ok(()));
        // Without the carried certificate the old signature cannot be checked.
        assert!(accepted(&child, &signed_by(&old_key, None)).is_err());

        // A sibling's certificate, issued by its own CA: refused.
        let sibling = child_of(&child_of(&root, "330000"), "330200");
        let (theirs, their_key) = sibling.issue_with_key(&Leaf::NodeClient).expect("sibling");
        let refused = accepted(&child, &signed_by(&their_key, Some(&theirs))).expect_err("sibling refused");
        assert!(refused.contains("bad_signature") || refused.contains("签名无效"), "{refused}");

        // A certificate naming the city but made by another hierarchy: refused.
        let other = child_of(&child_of(&Authority::root().expect("root"), "330000"), "330100");
        let (forged, forged_key) = other.issue_with_key(&Leaf::NodeClient).expect("forged");
        assert!(accepted(&child, &signed_by(&forged_key, Some(&forged))).is_err());
        // Without the issuing CA nothing carried is believed.
        let blind = Child { authority: None, ..child };
        assert!(accepted(&blind, &signed_by(&old_key, Some(&before))).is_err());
    }
}
