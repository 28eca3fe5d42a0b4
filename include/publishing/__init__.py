"""Write, audit, publish: a run builds the published layers where readers do not look, the gate
audits that build, and only a passing (or warning) gate points the contract names at it."""
