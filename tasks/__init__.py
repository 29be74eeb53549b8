"""Task adapters (one per dataset) and the evaluation protocols they use."""
