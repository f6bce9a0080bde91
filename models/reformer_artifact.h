// A Reformer config compiled ahead of time into an artifact (training step
// and forward pass), and the config read back from an artifact's manifest.
#pragma once

#include <string>

#include "compiler/pipeline/artifact_builder.h"
#include "models/reformer_config.h"
#include "runtime/artifact.h"

namespace reforge {

runtime::Artifact compile_reformer_artifact(const ReformerConfig& config, const std::string& name,
                                            const ArtifactOptions& options = {});

// An artifact compiled for data parallelism records its replicas under
// this key beside the config's fields (each replica's step takes
// batch / replicas rows); a checkpoint's record never holds it, so a run
// resumes on any number of ranks.
inline constexpr const char* kReplicasRecord = "replicas";

// Every config field as text (not the replicas), and back, the replicas
// included when present (an Error names a bad field).
runtime::KeyValues config_record(const ReformerConfig& config);
ReformerConfig config_from_record(const runtime::KeyValues& record);

}  // namespace reforge
