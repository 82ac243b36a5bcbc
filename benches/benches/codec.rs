//! Codec micro-benchmarks: decode/encode of a typical Interest and Data, name prefix hashing,
//! and popping a function from a chained Interest (the per-hop cost of chaining).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nfwd_benches::{chained_interest, typical_data, typical_interest, typical_name};
use nfwd_tlv::{Data, Interest, InterestEdit, NameHasher};

fn interest(c: &mut Criterion) {
    let wire = typical_interest();
    c.bench_function("interest/decode", |b| {
        b.iter(|| Interest::decode(black_box(wire.clone())).unwrap());
    });
    let decoded = Interest::decode(wire.clone()).unwrap();
    let builder = decoded.to_builder();
    c.bench_function("interest/encode", |b| {
        b.iter(|| black_box(&builder).encode());
    });
    let edit = InterestEdit {
        nonce: Some([1, 2, 3, 4]),
        hop_limit: Some(63),
        pop_function: false,
    };
    c.bench_function("interest/edit_nonce_hoplimit", |b| {
        b.iter(|| black_box(&decoded).edited(black_box(&edit)));
    });
}

fn data(c: &mut Criterion) {
    let wire = typical_data();
    c.bench_function("data/decode", |b| {
        b.iter(|| Data::decode(black_box(wire.clone())).unwrap());
    });
    let decoded = Data::decode(wire).unwrap();
    let builder = decoded.to_builder();
    let info = decoded.signature_info().unwrap().unwrap();
    let value = decoded.signature_value().unwrap().clone();
    c.bench_function("data/encode", |b| {
        b.iter(|| black_box(&builder).encode_with(Some((&info, &value))));
    });
}

fn names(c: &mut Criterion) {
    let name = typical_name();
    let hasher = NameHasher::new();
    c.bench_function("name/prefix_hashes_6", |b| {
        b.iter(|| black_box(&name).prefix_hashes(&hasher));
    });
}

fn chaining(c: &mut Criterion) {
    let wire = chained_interest();
    let decoded = Interest::decode(wire.clone()).unwrap();
    let pop = InterestEdit {
        pop_function: true,
        ..InterestEdit::default()
    };
    c.bench_function("chain/pop_function", |b| {
        b.iter(|| black_box(&decoded).edited(black_box(&pop)));
    });
    c.bench_function("chain/decode_and_pop", |b| {
        b.iter(|| {
            Interest::decode(black_box(wire.clone()))
                .unwrap()
                .edited(&pop)
        });
    });
}

criterion_group!(benches, interest, data, names, chaining);
criterion_main!(benches);
