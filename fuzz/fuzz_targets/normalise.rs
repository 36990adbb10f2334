//! Header mapping and cell coercion on arbitrary sheets: see `sanhu::normalise::fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn project() -> &'static sanhu::config::Project {
    static P: OnceLock<sanhu::config::Project> = OnceLock::new();
    P.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        sanhu::config::load(&root).expect("the bundled project loads")
    })
}

fuzz_target!(|data: &[u8]| {
    sanhu::normalise::fuzz::header_and_cells(project(), data);
});
