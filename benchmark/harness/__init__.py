"""The harness: registries, config, planning, running a cell, records and the results store, executors,
checkpoints, provenance, seeding, data download and verification, scoring. It never imports the studies,
the reports or the CLI."""
