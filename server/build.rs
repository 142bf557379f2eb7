//! `mchatd --version` names the exact build: see `mchat-build-info`.

fn main() {
    mchat_build_info::emit();
}
