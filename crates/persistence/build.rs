//! The migrations are embedded in the binary (`embed_migrations!`): rebuild
//! this crate whenever one is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
