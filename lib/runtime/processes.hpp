// runtime/processes.hpp — small Linux process helpers for the tools and
// tests that start and watch local replicas (synod-cluster, synod-torture,
// synod-bench, synod-flood).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace synod::runtime {

// The whole file, or "" if it cannot be read.
std::string read_text(const std::filesystem::path& path);

// The folder of the running executable (where its sibling tools are).
std::filesystem::path self_dir();

// True while pid runs; a zombie counts as gone. Reaps the caller's own
// exited children (harmless for other pids).
bool process_alive(pid_t pid);

// Resident memory of pid in KiB, or -1 if it is gone.
long rss_kib(pid_t pid);

}  // namespace synod::runtime
