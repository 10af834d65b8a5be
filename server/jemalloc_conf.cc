// jemalloc's options, compiled into every binary that links it
// (adaptd_use_jemalloc in CMakeLists.txt); MALLOC_CONF still overrides them.
//
// dirty_decay_ms:-1 keeps freed pages mapped for reuse instead of handing
// them back to the kernel. With jemalloc's default (10 s, and any finite
// value tried up to 60 s) the backbone's activation tensors, 13 MB for a
// batch of 64, came back from the kernel as fresh pages on every batch:
// 2 million page faults in 20 s. In-process batched Predict ran at 448 ok/s
// instead of 4,190, and pretraining at 238 images/s instead of 1,661
// (docs/experiments/jemalloc-dirty-pages.md). The price is that resident
// memory stays at its peak working set.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "dirty_decay_ms:-1";
}
