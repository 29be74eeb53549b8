"""Reports as pure functions of records: leaderboards, paper tables, ablation reports, figures, and the
numbers published elsewhere (kept apart, with their sources)."""
