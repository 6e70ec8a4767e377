// Placeholder: filled in by the clock work (issue 10).
